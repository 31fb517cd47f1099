#include "cli/admin/failure.h"

#include "cli/card_errors.h"

namespace attache::cli::admin {

int exit_code_for(const Error& error, int fallback) {
    if (!error.rv())
        return fallback;
    switch (*error.rv()) {
        case CKR_PIN_INCORRECT:
            return kWrongPin;
        case CKR_PIN_LOCKED:
            return kPinBlocked;
        case CKR_PIN_LEN_RANGE:
        case CKR_PIN_INVALID:
            return kUsage;
        case CKR_USER_NOT_LOGGED_IN:
            return kTokenLocked;
        case CKR_TOKEN_NOT_PRESENT:
        case CKR_DEVICE_REMOVED:
        case CKR_TOKEN_NOT_RECOGNIZED:
            return kTokenAbsent;
        case CKR_MECHANISM_INVALID:
        case CKR_MECHANISM_PARAM_INVALID:
        case CKR_KEY_FUNCTION_NOT_PERMITTED:
        case CKR_KEY_SIZE_RANGE:
        case CKR_KEY_TYPE_INCONSISTENT:
        case CKR_DEVICE_MEMORY:
        case CKR_TEMPLATE_INCONSISTENT:
        case CKR_TEMPLATE_INCOMPLETE:
        case CKR_ATTRIBUTE_VALUE_INVALID:
        case CKR_ATTRIBUTE_TYPE_INVALID:
        case CKR_FUNCTION_NOT_SUPPORTED:
        case CKR_TOKEN_WRITE_PROTECTED:
        case CKR_SESSION_EXISTS:
            return kRefusedByToken;
        default:
            return fallback;
    }
}

void fail(const Error& error, std::string_view context, int fallback) {
    const std::string prefix = context.empty() ? std::string() : std::string(context) + ": ";
    if (!error.rv())
        throw CommandFailure(fallback, prefix + error.message());
    throw CommandFailure(exit_code_for(error, fallback), prefix + card_error_text(*error.rv()),
                         error.message());
}

}  // namespace attache::cli::admin
