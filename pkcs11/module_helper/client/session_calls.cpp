// Client calls on sessions: open and close, info, login and logout, PINs. A PIN is written
// into the request frame, which is wiped once sent.

#include <cstring>

#include "pkcs11/module_helper/client/call_exchange.h"
#include "pkcs11/module_helper/client/client_calls.h"

namespace attache::p11::module_helper::client_calls {

CK_RV init_pin(CallChannel& ch, CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
    FieldWriter w(CallId::C_InitPIN);
    w.ulong(s);
    w.bytes(pin, pin_len);
    return exchange_rv(ch, CallId::C_InitPIN, w,
                       pin == nullptr ? CallTiming::unbounded : CallTiming::timed);
}

CK_RV set_pin(CallChannel& ch, CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
              CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len) {
    FieldWriter w(CallId::C_SetPIN);
    w.ulong(s);
    w.bytes(old_pin, old_len);
    w.bytes(new_pin, new_len);
    return exchange_rv(ch, CallId::C_SetPIN, w,
                       old_pin == nullptr ? CallTiming::unbounded : CallTiming::timed);
}

CK_RV open_session(CallChannel& ch, CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR, CK_NOTIFY notify,
                   CK_SESSION_HANDLE_PTR session) {
    if (session == nullptr || notify != nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_OpenSession);
    w.ulong(slot);
    w.ulong(flags);
    return exchange(ch, CallId::C_OpenSession, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) {
                        const CK_SESSION_HANDLE h = in.ulong();
                        if (rv == CKR_OK)
                            *session = h;
                        return rv;
                    });
}

CK_RV close_session(CallChannel& ch, CK_SESSION_HANDLE s) {
    FieldWriter w(CallId::C_CloseSession);
    w.ulong(s);
    return exchange_rv(ch, CallId::C_CloseSession, w);
}

CK_RV close_all_sessions(CallChannel& ch, CK_SLOT_ID slot) {
    FieldWriter w(CallId::C_CloseAllSessions);
    w.ulong(slot);
    return exchange_rv(ch, CallId::C_CloseAllSessions, w);
}

CK_RV get_session_info(CallChannel& ch, CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info) {
    if (info == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_GetSessionInfo);
    w.ulong(s);
    return exchange(ch, CallId::C_GetSessionInfo, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) {
                        auto bytes = in.bytes();
                        if (rv != CKR_OK)
                            return bytes ? CKR_DEVICE_ERROR : rv;
                        if (!bytes || bytes->size() != sizeof *info)
                            return static_cast<CK_RV>(CKR_DEVICE_ERROR);
                        std::memcpy(info, bytes->data(), sizeof *info);
                        return rv;
                    });
}

CK_RV login(CallChannel& ch, CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
            CK_ULONG pin_len) {
    FieldWriter w(CallId::C_Login);
    w.ulong(s);
    w.ulong(user);
    w.bytes(pin, pin_len);
    // A NULL PIN is the PIN pad: a person types, however long it takes.
    return exchange_rv(ch, CallId::C_Login, w,
                       pin == nullptr ? CallTiming::unbounded : CallTiming::timed);
}

CK_RV logout(CallChannel& ch, CK_SESSION_HANDLE s) {
    FieldWriter w(CallId::C_Logout);
    w.ulong(s);
    return exchange_rv(ch, CallId::C_Logout, w);
}

}  // namespace attache::p11::module_helper::client_calls
