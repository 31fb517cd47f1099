// Module: sessions, login and logout.

#include <cstring>
#include <string_view>

#include "pkcs11/forwarding/log.h"
#include "pkcs11/forwarding/module.h"
#include "pkcs11/secret.h"

namespace attache::forwarding {
namespace {

// Sessions one application may hold open at once.
constexpr size_t kMaxSessions = 4096;

}  // namespace

CK_RV Module::lookup_locked(CK_SESSION_HANDLE handle, SessionPtr& out) {
    check_epoch_locked();
    auto it = sessions_.find(handle);
    if (it == sessions_.end())
        return CKR_SESSION_HANDLE_INVALID;
    const SlotState* slot = slots_.find(it->second->slot);
    if (slot == nullptr)
        return CKR_SESSION_HANDLE_INVALID;
    if (slot->generation != it->second->generation)
        return slot->present ? CKR_SESSION_HANDLE_INVALID : CKR_DEVICE_REMOVED;
    out = it->second;
    return CKR_OK;
}

void Module::drop_session_locked(CK_SESSION_HANDLE handle) {
    auto it = sessions_.find(handle);
    if (it == sessions_.end())
        return;
    const CK_SLOT_ID slot = it->second->slot;
    sessions_.erase(it);
    std::erase_if(objects_, [&](const auto& o) { return o.second->owner == handle; });
    // The application's last session with the token closed: its login view ends.
    for (const auto& [h, s] : sessions_) {
        if (s->slot == slot)
            return;
    }
    if (SlotState* s = slots_.find(slot))
        start_over_locked(*s);
}

void Module::start_over_locked(SlotState& slot) {
    // The application's last session with the token closed: its own logout ends with it,
    // and the next session sees the agent's state, as a new application would.
    slot.logged_out = false;
    slot.app_login = false;
    SlotTable::update_view(slot);
}

CK_RV Module::open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR session) {
    if (session == nullptr)
        return CKR_ARGUMENTS_BAD;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    refresh_status();
    std::lock_guard lock(mutex_);
    check_epoch_locked();
    const SlotState* s = slots_.find(slot);
    if (s == nullptr)
        return CKR_SLOT_ID_INVALID;
    if (!s->present)
        return CKR_TOKEN_NOT_PRESENT;
    if (sessions_.size() >= kMaxSessions)
        return CKR_SESSION_COUNT;
    auto created = std::make_shared<Session>();
    created->handle = next_handle();
    created->slot = slot;
    created->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
    created->generation = s->generation;
    created->epoch = seen_epoch_;
    sessions_.emplace(created->handle, created);
    *session = created->handle;
    return CKR_OK;
}

CK_RV Module::close_session(CK_SESSION_HANDLE session) {
    std::lock_guard lock(mutex_);
    check_epoch_locked();
    if (!sessions_.count(session))
        return CKR_SESSION_HANDLE_INVALID;
    drop_session_locked(session);
    return CKR_OK;
}

CK_RV Module::close_all_sessions(CK_SLOT_ID slot) {
    std::lock_guard lock(mutex_);
    check_epoch_locked();
    if (slots_.find(slot) == nullptr)
        return CKR_SLOT_ID_INVALID;
    std::vector<CK_SESSION_HANDLE> doomed;
    for (const auto& [h, s] : sessions_) {
        if (s->slot == slot)
            doomed.push_back(h);
    }
    for (CK_SESSION_HANDLE h : doomed)
        drop_session_locked(h);
    if (SlotState* s = slots_.find(slot))
        start_over_locked(*s);
    return CKR_OK;
}

CK_RV Module::get_session_info(CK_SESSION_HANDLE session, CK_SESSION_INFO_PTR info) {
    if (info == nullptr)
        return CKR_ARGUMENTS_BAD;
    // The agent may have locked the token since (idle, `attache lock`, card pulled): the
    // application then sees a public session and knows to log in again.
    refresh_status();
    return with_session(session, [&](Session& s) {
        std::lock_guard lock(mutex_);
        const SlotState* slot = slots_.find(s.slot);
        const bool user = slot != nullptr && slot->logged_in;
        const bool rw = s.flags & CKF_RW_SESSION;
        info->slotID = s.slot;
        info->state = user ? (rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS)
                           : (rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION);
        info->flags = s.flags;
        info->ulDeviceError = 0;
        return CKR_OK;
    });
}

CK_RV Module::so_login_locked(const Session& s) {
    const SlotState* slot = slots_.find(s.slot);
    if (slot == nullptr)
        return CKR_SESSION_HANDLE_INVALID;
    // The standard's state checks first (PKCS#11 2.40, C_Login), in SoftHSM2's order.
    for (const auto& [h, other] : sessions_) {
        if (other->slot == s.slot && !(other->flags & CKF_RW_SESSION))
            return CKR_SESSION_READ_ONLY_EXISTS;
    }
    if (slot->logged_in)
        return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    return CKR_USER_TYPE_INVALID;  // SO work is the admin CLI's, on the card itself
}

CK_RV Module::login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                    CK_ULONG pin_len) {
    return with_session(session, [&](Session& s) -> CK_RV {
        if (user == CKU_CONTEXT_SPECIFIC)
            return context_login(s, pin, pin_len);
        if (user == CKU_SO) {
            std::lock_guard lock(mutex_);
            return so_login_locked(s);
        }
        if (user != CKU_USER)
            return CKR_USER_TYPE_INVALID;
        if (pin == nullptr && pin_len > 0)
            return CKR_ARGUMENTS_BAD;
        if (pin != nullptr && pin_len > protocol::kMaxPinSize)
            return CKR_PIN_LEN_RANGE;
        bool already = false;
        {
            std::lock_guard lock(mutex_);
            const SlotState* slot = slots_.find(s.slot);
            already = slot != nullptr && slot->logged_in && slot->app_login;
        }
        if (already) {
            // The answer matters here: the agent may have locked since (idle, `attache lock`).
            refresh_status();
        }
        protocol::UnlockRequest unlock;
        {
            std::lock_guard lock(mutex_);
            SlotState* slot = slots_.find(s.slot);
            if (slot == nullptr)
                return CKR_SESSION_HANDLE_INVALID;
            if (slot->logged_in && slot->app_login)
                return CKR_USER_ALREADY_LOGGED_IN;
            unlock.token = slot->status.uri;
        }
        if (pin != nullptr && pin_len > 0) {
            // Forwarded once in this request, never kept: the Secret wipes itself with the
            // request, and the client wipes the encoded frame.
            Secret secret;
            if (!Secret::from(std::string_view(reinterpret_cast<const char*>(pin), pin_len),
                              secret)) {
                return CKR_PIN_LEN_RANGE;
            }
            unlock.pin = std::move(secret);
        }
        Outcome o;
        std::optional<protocol::UnlockReply> reply;
        {
            const protocol::Request request(std::move(unlock));
            // Never sent twice: a PIN is tried at most once.
            reply = this->request<protocol::UnlockReply>(request, Call::login, s.epoch, o, false);
        }
        if (!reply)
            return fail(o, s);
        debug(reply->already_unlocked ? "login: the token was already unlocked"
                                      : "login: the agent unlocked the token");
        {
            std::lock_guard lock(mutex_);
            SlotState* slot = slots_.find(s.slot);
            if (slot == nullptr || slot->generation != s.generation)
                return CKR_DEVICE_REMOVED;
            slot->status.unlocked = true;
            slot->logged_out = false;
            SlotTable::update_view(*slot);
            slot->app_login = true;
        }
        // The agent lists the private keys once they are verified at unlock.
        refresh_keys();
        return CKR_OK;
    });
}

CK_RV Module::logout(CK_SESSION_HANDLE session) {
    return with_session(session, [&](Session& s) -> CK_RV {
        std::lock_guard lock(mutex_);
        SlotState* slot = slots_.find(s.slot);
        if (slot == nullptr || !slot->logged_in)
            return CKR_USER_NOT_LOGGED_IN;
        // Only this application's view ends; the agent stays unlocked for the others.
        slot->logged_out = true;
        SlotTable::update_view(*slot);
        std::erase_if(objects_, [&](const auto& o) {
            return o.second->owner != 0 && o.second->slot == s.slot && o.second->is_private;
        });
        return CKR_OK;
    });
}

}  // namespace attache::forwarding
