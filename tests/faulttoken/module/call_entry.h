#pragma once

// The steps every wrapped call goes through before reaching the real module: count the call,
// apply the configured faults, check the token and session. Each enter_* function either returns
// (go on and forward the call) or throws RvError with what the call must return instead.

#include <p11-kit/pkcs11.h>

#include <optional>

#include "tests/faulttoken/function_ids.h"

namespace attache::faulttoken {

// Where a call on a session goes in the real module.
struct SessionTarget {
    CK_SESSION_HANDLE real_handle;
    CK_SLOT_ID slot_id;
};

// Whether a slot call needs the token (C_GetTokenInfo does; C_GetSlotInfo does not).
enum class TokenNeeded { kNo, kYes };

// Counts the call and applies its faults; `slot` is the slot the call is about, if any.
void enter_call(Fn function, std::optional<CK_SLOT_ID> slot = std::nullopt);

// enter_call(), then closes sessions killed by a removal of the slot's token, and throws
// CKR_TOKEN_NOT_PRESENT while the token is absent if the call needs it.
void enter_slot_call(Fn function, CK_SLOT_ID slot, TokenNeeded token_needed);

// enter_call() for the session's slot, then resolves the session: throws
// CKR_SESSION_HANDLE_INVALID for unknown sessions and, for sessions killed by a token removal,
// CKR_DEVICE_REMOVED while the token is absent or CKR_SESSION_HANDLE_INVALID once it is back.
SessionTarget enter_session_call(Fn function, CK_SESSION_HANDLE session);

// What a call on a session killed by a removal of the slot's token returns.
CK_RV removed_session_rv(CK_SLOT_ID slot);

// Closes, in the real module, the sessions killed by a removal of the slot's token.
void close_removed_sessions(CK_SLOT_ID slot);

// The real module's functions, counting one call of the function as forwarded.
const CK_FUNCTION_LIST& forward(Fn function);

}  // namespace attache::faulttoken
