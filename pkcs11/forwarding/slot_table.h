#pragma once

// Slots: one per token the agent serves, found in its status replies. A token is known by
// its label and serial; its slot id is handed out once per process and never reused (a card
// that comes back gets its old slot; another card a new one).

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pkcs11/agent_protocol/messages.h"

namespace attache::forwarding {

struct TokenIdentity {
    std::string label;
    std::string serial;
    auto operator<=>(const TokenIdentity&) const = default;
};

// Token identity -> slot id, for the life of the process (it outlives C_Finalize).
class SlotRegistry {
  public:
    // Slots a process ever hands out; later tokens are not shown.
    static constexpr size_t kMaxSlots = 256;

    // 0 when the table is full.
    CK_SLOT_ID id_for(const TokenIdentity& token);

    // Held across fork() (pthread_atfork), so that a child keeps the table consistent: its
    // slot ids are its parent's.
    void lock_for_fork() { mutex_.lock(); }
    void unlock_after_fork() { mutex_.unlock(); }

  private:
    std::mutex mutex_;
    std::map<TokenIdentity, CK_SLOT_ID> ids_;
    CK_SLOT_ID next_ = 1;
};

struct SlotState {
    CK_SLOT_ID id = 0;
    TokenIdentity identity;
    protocol::TokenStatus status;  // as last reported
    bool present = false;
    // Moves on at every change of presence: sessions of another generation are gone.
    uint64_t generation = 1;
    bool event = false;  // a change C_WaitForSlotEvent has not reported yet
    // The application's login view follows the agent: one unlock serves every application,
    // so sessions are user sessions while the agent reports the token unlocked, unless the
    // application logged out (C_Logout ends its own view only). NSS asks for a login (and
    // Thunderbird and Firefox show their protected-authentication dialog) whenever a session
    // reads as public, even with the agent unlocked: the view must not lag behind the agent.
    bool logged_out = false;  // C_Logout, and no C_Login since
    bool app_login = false;   // C_Login by the application during the current view
    bool logged_in = false;   // the view: present, unlocked and not logged out
    // Moves on each time a view ends: a private object's handle lives for one view.
    uint64_t login_epoch = 1;
};

class SlotTable {
  public:
    explicit SlotTable(SlotRegistry& registry) : registry_(registry) {}

    // Applies the agent's status: tokens appear, change presence or disappear.
    void apply(const protocol::StatusReply& status);
    // The agent cannot be reached: no token is present.
    void all_absent();
    void mark_absent(CK_SLOT_ID id);
    // Every application login view ends (another agent answers now).
    void log_out_all();
    // The token is locked (the agent said so in an error reply).
    void mark_locked(CK_SLOT_ID id);
    // After a change of presence, lock state or logged_out: recomputes the view.
    static void update_view(SlotState& s);

    SlotState* find(CK_SLOT_ID id);
    SlotState* find(const TokenIdentity& token);
    std::vector<CK_SLOT_ID> list(bool present_only) const;
    // One pending slot event, cleared.
    std::optional<CK_SLOT_ID> take_event();
    const std::map<CK_SLOT_ID, SlotState>& slots() const { return slots_; }

  private:
    void set_present(SlotState& s, bool present);

    SlotRegistry& registry_;
    std::map<CK_SLOT_ID, SlotState> slots_;
};

void fill_slot_info(const SlotState& slot, CK_SLOT_INFO& info);
void fill_token_info(const SlotState& slot, CK_TOKEN_INFO& info);

// Copies `text` into a blank-padded PKCS#11 field (no terminating NUL).
void pad_field(const std::string& text, unsigned char* field, size_t size);

}  // namespace attache::forwarding
