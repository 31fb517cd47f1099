#include <optional>
#include <string>

#include "tests/faulttoken/module/c_boundary.h"
#include "tests/faulttoken/module/call_entry.h"
#include "tests/faulttoken/module/control_attachment.h"
#include "tests/faulttoken/module/pin_simulation.h"
#include "tests/faulttoken/module/session_table.h"
#include "tests/faulttoken/module/special_calls.h"

namespace attache::faulttoken::special {

CK_RV close_session(CK_SESSION_HANDLE session) noexcept {
    return at_c_boundary([&] {
        std::optional<SessionRecord> record = session_table().find(session);
        enter_call(Fn::C_CloseSession,
                   record ? std::optional<CK_SLOT_ID>(record->slot_id) : std::nullopt);
        if (!record) {
            return static_cast<CK_RV>(CKR_SESSION_HANDLE_INVALID);
        }
        close_removed_sessions(record->slot_id);
        record = session_table().find(session);
        if (!record) {
            return static_cast<CK_RV>(CKR_SESSION_HANDLE_INVALID);
        }
        if (record->removed) {
            session_table().erase(session);
            return removed_session_rv(record->slot_id);
        }
        const CK_RV rv = forward(Fn::C_CloseSession).C_CloseSession(record->real_handle);
        if (rv == CKR_OK || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) {
            session_table().erase(session);
        }
        return rv;
    });
}

CK_RV login(CK_SESSION_HANDLE session, CK_USER_TYPE user_type, CK_UTF8CHAR_PTR pin,
            CK_ULONG pin_length) noexcept {
    return at_c_boundary([&] {
        const SessionTarget target = enter_session_call(Fn::C_Login, session);
        ControlBlock* control = current_control();
        std::string typed_on_pinpad;
        if (pin == nullptr && control) {
            if (std::optional<std::string> typed = pinpad_pin(*control, target.slot_id)) {
                typed_on_pinpad = *typed;
                pin = reinterpret_cast<CK_UTF8CHAR_PTR>(typed_on_pinpad.data());
                pin_length = typed_on_pinpad.size();
            }
        }
        const bool counted = control && counts_pin_tries(*control, user_type);
        if (counted && simulated_pin_locked(*control, target.slot_id)) {
            return static_cast<CK_RV>(CKR_PIN_LOCKED);
        }
        const CK_RV rv =
            forward(Fn::C_Login).C_Login(target.real_handle, user_type, pin, pin_length);
        if (counted) {
            record_login_result(*control, target.slot_id, rv);
        }
        return rv;
    });
}

CK_RV init_pin(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR pin, CK_ULONG pin_length) noexcept {
    return at_c_boundary([&] {
        const SessionTarget target = enter_session_call(Fn::C_InitPIN, session);
        const CK_RV rv = forward(Fn::C_InitPIN).C_InitPIN(target.real_handle, pin, pin_length);
        if (ControlBlock* control = current_control(); control && rv == CKR_OK) {
            reset_wrong_pins(*control, target.slot_id);
        }
        return rv;
    });
}

}  // namespace attache::faulttoken::special
