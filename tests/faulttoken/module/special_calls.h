#pragma once

// Entry points for the functions the module does more with than forward them.

#include <p11-kit/pkcs11.h>

namespace attache::faulttoken::special {

// general_calls.cpp
CK_RV initialize(CK_VOID_PTR init_args) noexcept;
CK_RV finalize(CK_VOID_PTR reserved) noexcept;
CK_RV get_slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR slots, CK_ULONG_PTR count) noexcept;

// slot_calls.cpp
CK_RV get_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) noexcept;
CK_RV get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) noexcept;
CK_RV open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR application, CK_NOTIFY notify,
                   CK_SESSION_HANDLE_PTR session) noexcept;
CK_RV close_all_sessions(CK_SLOT_ID slot) noexcept;

// session_calls.cpp
CK_RV close_session(CK_SESSION_HANDLE session) noexcept;
CK_RV login(CK_SESSION_HANDLE session, CK_USER_TYPE user_type, CK_UTF8CHAR_PTR pin,
            CK_ULONG pin_length) noexcept;
CK_RV init_pin(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR pin, CK_ULONG pin_length) noexcept;

}  // namespace attache::faulttoken::special
