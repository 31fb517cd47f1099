#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace attache::faulttoken {

// What the module knows about a session it handed out.
struct SessionRecord {
    CK_SESSION_HANDLE real_handle;  // the session in the real module
    CK_SLOT_ID slot_id;
    std::uint64_t generation;  // removal_generation() of the slot when the session was opened
    bool removed;              // killed by a token removal; the real session is closed already
};

// The sessions the module handed out. The module gives out its own handles, never reused, so a
// session killed by a token removal stays dead even when the real module reuses its handle.
class SessionTable {
  public:
    // Records a newly opened real session and returns the handle to give the caller.
    CK_SESSION_HANDLE add(CK_SESSION_HANDLE real_handle, CK_SLOT_ID slot, std::uint64_t generation);
    // The session behind a handle given out by add(), if it is still known.
    std::optional<SessionRecord> find(CK_SESSION_HANDLE handle) const;
    // Forgets a session.
    void erase(CK_SESSION_HANDLE handle);
    // Forgets every session of a slot.
    void erase_slot(CK_SLOT_ID slot);
    // Forgets every session.
    void clear();
    // Marks the live sessions of the slot opened under another (older) generation as removed and
    // returns their real handles, for the caller to close in the real module.
    std::vector<CK_SESSION_HANDLE> mark_removed(CK_SLOT_ID slot, std::uint64_t generation);

  private:
    mutable std::mutex mutex_;
    std::map<CK_SESSION_HANDLE, SessionRecord> sessions_;
    CK_SESSION_HANDLE next_handle_ = 1;
};

// The module's one session table.
SessionTable& session_table();

}  // namespace attache::faulttoken
