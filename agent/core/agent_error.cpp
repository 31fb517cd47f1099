#include "agent/core/agent_error.h"

namespace attache::agent {

bool means_token_gone(CK_RV rv) {
    return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_SESSION_CLOSED ||
           rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SLOT_ID_INVALID;
}

ErrorCode error_code_of(const Error& error) {
    if (auto code = error.code())
        return static_cast<ErrorCode>(*code);
    auto rv = error.rv();
    if (!rv)
        return ErrorCode::internal;
    switch (*rv) {
        case CKR_PIN_INCORRECT:
        case CKR_PIN_INVALID:
        case CKR_PIN_LEN_RANGE:
            return ErrorCode::pin_incorrect;
        case CKR_PIN_LOCKED:
            return ErrorCode::pin_locked;
        case CKR_USER_NOT_LOGGED_IN:
            return ErrorCode::token_locked;
        case CKR_FUNCTION_CANCELED:
            return ErrorCode::cancelled;
        case CKR_KEY_FUNCTION_NOT_PERMITTED:
        case CKR_KEY_TYPE_INCONSISTENT:
        case CKR_MECHANISM_INVALID:
        case CKR_MECHANISM_PARAM_INVALID:
        case CKR_ARGUMENTS_BAD:
        case CKR_DATA_LEN_RANGE:
        case CKR_DATA_INVALID:
        case CKR_ENCRYPTED_DATA_INVALID:
        case CKR_ENCRYPTED_DATA_LEN_RANGE:
        case CKR_KEY_SIZE_RANGE:
        case CKR_DOMAIN_PARAMS_INVALID:
        case CKR_FUNCTION_NOT_SUPPORTED:
            return ErrorCode::refused_by_token;
        default:
            break;
    }
    if (means_token_gone(*rv))
        return ErrorCode::token_absent;
    return ErrorCode::device_error;
}

}  // namespace attache::agent
