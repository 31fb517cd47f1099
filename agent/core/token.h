#pragma once

// One token the agent serves: its lock state, its keys and the operations on them.
//
// Lock state: every token starts locked. unlock() performs at most one C_Login (never a
// retry) and succeeds only when the token checked the PIN; lock() ends the login: C_Logout,
// and when that fails, closing every session of the token (a login ends with the last one).
// A token that is still logged in after that is unusable until the card is removed: it refuses
// every operation and every unlock. Login and logout go through a control session of their
// own, so a lock is never stuck behind a slow operation; operations borrow sessions from a
// pool. A lock that must not wait for the module at all (the time locks, with a module hung in
// another call) takes two steps: lock_now() refuses operations at once, end_login() logs out.
//
// A token goes absent when its card is removed or when its module stops (a helper process
// that crashed, was killed or hung): its login is forgotten and requests on it fail naming why.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/context_login.h"
#include "agent/core/helper_pool.h"
#include "agent/core/key_record.h"
#include "agent/core/key_scan.h"
#include "agent/core/operation.h"
#include "agent/core/pin_backoff.h"
#include "agent/core/session_pool.h"
#include "agent/core/user_prompt.h"
#include "pkcs11/module.h"
#include "pkcs11/secret.h"
#include "pkcs11/token_info.h"

namespace attache::agent {

// What `status` shows of a token.
struct TokenState {
    std::string uri;
    std::string label;
    std::string serial;
    std::string manufacturer;
    std::string model;
    bool present = false;
    bool unlocked = false;
    uint64_t flags = 0;  // CK_TOKEN_INFO flags (PIN counters, PIN pad)
    uint64_t since = 0;  // unix time of the last lock state change
    // Why it was last locked ("start", "lock request", "idle", ...) or, absent, why it went
    // away ("card removed", "the card's module stopped: ...").
    std::string lock_reason;
    uint32_t key_count = 0;
};

struct TokenSettings {
    unsigned workers = 0;  // workers_per_token; 0: session_pool_capacity's default
    ScanPolicy scan;
    HelperPoolSettings helpers;  // further helper processes, logged in at unlock (none: off)
};

class Token {
  public:
    using Clock = std::chrono::steady_clock;

    Token(p11::Module module, CK_SLOT_ID slot, p11::TokenInfo info, TokenSettings settings);
    ~Token();
    Token(const Token&) = delete;
    Token& operator=(const Token&) = delete;

    // Lists the keys visible while locked (public keys and certificates).
    Status scan();
    // Reads the key list again (objects added while the card is in), at most once per
    // `min_interval`; returns true when it read.
    bool rescan_if_older_than(std::chrono::milliseconds min_interval);

    const p11::Module& module() const { return module_; }
    CK_SLOT_ID slot() const { return slot_; }
    const std::string& serial() const { return serial_; }
    const std::string& label() const { return label_; }
    std::string uri() const;
    // "'label' (serial S)": how messages name the token.
    std::string display_name() const;

    p11::TokenInfo info() const;
    void update_info(const p11::TokenInfo& info);
    TokenState status() const;
    std::vector<std::shared_ptr<const KeyRecord>> keys() const;
    // The CA certificates stored on the token (authority_scan.h).
    std::vector<AuthorityRecord> authorities() const;

    bool present() const { return present_.load(); }
    bool unlocked() const { return unlocked_.load(); }
    // A lock failed to end the login: nothing is served until the card is removed.
    bool unusable() const { return unusable_.load(); }
    // Why the token is locked, for `status` (a card put back says it was removed).
    void set_lock_reason(const std::string& reason);
    Clock::time_point last_used() const;
    Clock::time_point unlocked_at() const;

    // pin null: the token's PIN pad. At most one C_Login, serialised per token, and never
    // sooner than the back-off after wrong PINs allows (it waits; a lock ends the wait).
    // `confirm_final_try`: the user confirmed, in the agent's own dialog, spending the last try.
    Result<UnlockResult> unlock(const Secret* pin, bool confirm_final_try);
    // Unlocks with a PIN asked through `prompter` (pinentry). One prompt however many
    // requests for this token arrive meanwhile: they wait for it and share its outcome (never
    // a second prompt or C_Login for one user action). A blocked PIN gets neither prompt nor
    // C_Login; the final try must be confirmed in the dialog; a lock or the card's removal
    // ends the prompt. A PIN-pad token is logged in without a prompt.
    Result<UnlockResult> unlock_interactive(UserPrompt& prompter,
                                            const PinPromptRequest& requester = {});
    // Returns true when the token was unlocked.
    bool lock(const std::string& reason);
    // lock() in two steps. lock_now() never calls the module: operations are refused from here
    // on and a PIN prompt closes; returns true when the token was unlocked, and then
    // end_login() must follow (it logs out, waiting for the control session, so possibly
    // behind a hung module call; it leaves a login made since by a new unlock alone).
    bool lock_now(const std::string& reason);
    void end_login();
    // Checks the control session: a card pulled and put back between two polls has lost its
    // sessions and login. Returns false when the token turned out to be gone.
    bool check_login();
    // The card went away: fail everything pending, forget the login. Returns true the first
    // time (the token was present until now).
    bool removed();
    // Its module stopped (`reason`: the module's words, e.g. "the helper was killed by signal
    // 9"): like removed(), and requests on the token say the module stopped. The module's
    // sessions died with it; none is closed.
    bool module_stopped(const std::string& reason);
    // What a request on the absent token is told.
    Error absent_error() const;

    // `prompt` answers the PIN of a CKA_ALWAYS_AUTHENTICATE key (asked for each use).
    // `client` (client_key): whose turn it is when the operation waits for a session.
    Result<Bytes> sign(const KeyRecord& key, const SignOperation& request,
                       const OperationPrompt& prompt = {}, PoolClient client = 0);
    Result<Bytes> decrypt(const KeyRecord& key, const DecryptOperation& request,
                          const OperationPrompt& prompt = {}, PoolClient client = 0);
    Result<Bytes> derive(const KeyRecord& key, const DeriveOperation& request,
                         PoolClient client = 0);
    Result<Bytes> random(size_t size);
    // Managed mode's card-authentication challenge (agent/managed/card_auth_challenge.h): a
    // CKM_ECDSA signature (r||s) over `digest` by the one private key with CKA_ID `cka_id`
    // that the token shows without a login (a PIV card's 9E key through OpenSC). Works while
    // locked, and never logs in: a key hidden until login is an error.
    Result<Bytes> sign_without_login(const Bytes& cka_id, std::span<const uint8_t> digest,
                                     size_t signature_size);

  private:
    // `client_pin`: a CKA_ALWAYS_AUTHENTICATE key's PIN came with the request.
    template <typename Fn>
    Result<Bytes> run(const KeyRecord& key, uint32_t operation, PoolClient client, Fn&& fn,
                      bool client_pin = false);
    Status ensure_usable() const;
    Result<p11::TokenInfo> fetch_info();
    // The login itself; requires control_mutex_. Refuses without C_Login when lock() was
    // called since `locks_before` was read.
    Result<UnlockResult> unlock_locked(const Secret* pin, bool confirm_final_try,
                                       uint64_t locks_before);
    Result<UnlockResult> prompt_and_unlock(UserPrompt& prompter, const PinPromptRequest& requester);
    // Waits out the back-off after wrong PINs; fails when a lock or removal comes first.
    Status wait_for_backoff(uint64_t locks_before);
    Status rescan_locked(bool logged_in);  // requires control_mutex_
    // The decryptions the token does with `key`, asked once per key; requires control_mutex_.
    uint32_t decrypt_support_of(const KeyRecord& key);
    void set_locked_state(const std::string& reason);
    // Ends the token's login; requires control_mutex_. Marks the token unusable when the
    // login outlives every session this process had on it.
    void end_login_locked();
    // Before a PIN goes to the module: the module lists the token's slot with a token in it,
    // asked now (not at the last poll). Requires control_mutex_.
    Status ensure_reachable_locked();
    // A login the agent does not know of (a lock that failed, another user of the module):
    // ended before any C_Login, so that C_Login always checks a PIN. Requires control_mutex_.
    Status end_stale_login_locked();
    Error unusable_error() const;
    // removed() and module_stopped(): `why` becomes the lock reason.
    bool go_absent(const std::string& why, bool sessions_died);
    // An operation failed because the module stopped under it: the token goes absent.
    Error stopped_during_operation();
    // A further helper of the pool stopped (on its watching thread, or an operation saw it):
    // the token locks at once; its login ends at the next check_login (the watcher's poll),
    // since the helper's own thread must not wait for the control session.
    void helper_stopped(const std::string& reason);

    const p11::Module module_;
    const CK_SLOT_ID slot_;
    const std::string serial_;
    const std::string label_;
    const TokenSettings settings_;
    SessionPool pool_;
    HelperPool helpers_;                     // after pool_: ended before it
    std::atomic<bool> login_to_end_{false};  // helper_stopped() locked it; check_login() logs out

    std::atomic<bool> present_{true};
    std::atomic<bool> unlocked_{false};
    std::atomic<int64_t> last_used_ns_{0};
    std::atomic<uint64_t> lock_requests_{0};   // lock() calls so far
    std::atomic<bool> last_pin_wrong_{false};  // the last C_Login said CKR_PIN_INCORRECT
    PinBackoff backoff_;                       // after wrong PINs, the next C_Login waits
    std::atomic<bool> unusable_{false};        // still logged in after a lock
    std::atomic<int64_t> scanned_ns_{0};       // when the key list was last read
    std::atomic<bool> module_stopped_{false};  // absent because its module stopped, not the card

    mutable std::mutex mutex_;  // guards the fields below
    p11::TokenInfo info_;
    std::vector<std::shared_ptr<const KeyRecord>> keys_;
    std::vector<AuthorityRecord> authorities_;
    std::chrono::system_clock::time_point since_;
    Clock::time_point unlocked_at_;
    std::string lock_reason_ = "start";

    std::mutex control_mutex_;  // serialises login, logout and rescans
    std::optional<p11::Session> control_;
    std::map<std::string, uint32_t> decrypt_support_;  // by key id; guarded by control_mutex_

    // The PIN prompt in progress, if any; guarded by prompt_mutex_ (not held while asking).
    std::mutex prompt_mutex_;
    std::condition_variable prompt_done_;
    bool prompting_ = false;
    uint64_t prompts_finished_ = 0;
    std::optional<Error> prompt_error_;  // how the last prompt failed; nullopt: it unlocked
    PromptCancel prompt_cancel_;
};

}  // namespace attache::agent
