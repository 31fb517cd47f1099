#include "pkcs11/forwarding/agent_errors.h"

#include <variant>

namespace attache::forwarding {
namespace {

using protocol::ErrorCode;

// CK_RVs from the card that keep their meaning for the application's call.
CK_RV token_rv(uint64_t ckr) {
    switch (ckr) {
        case CKR_MECHANISM_INVALID:
        case CKR_MECHANISM_PARAM_INVALID:
        case CKR_DATA_LEN_RANGE:
        case CKR_DATA_INVALID:
        case CKR_ENCRYPTED_DATA_INVALID:
        case CKR_ENCRYPTED_DATA_LEN_RANGE:
        case CKR_KEY_FUNCTION_NOT_PERMITTED:
        case CKR_KEY_TYPE_INCONSISTENT:
        case CKR_KEY_SIZE_RANGE:
        case CKR_DOMAIN_PARAMS_INVALID:
            return static_cast<CK_RV>(ckr);
        case CKR_FUNCTION_NOT_SUPPORTED:
        case CKR_ARGUMENTS_BAD:
            return CKR_MECHANISM_PARAM_INVALID;
        default:
            return CKR_FUNCTION_FAILED;
    }
}

}  // namespace

Outcome outcome_of(const protocol::ErrorReply& e, Call call) {
    Outcome o;
    o.message = std::string("attache-agent: ") + protocol::name_of(e.code) + ": " + e.message;
    switch (e.code) {
        case ErrorCode::token_locked:
            o.rv = CKR_USER_NOT_LOGGED_IN;
            o.effect = Effect::token_locked;
            break;
        case ErrorCode::pin_incorrect:
            o.rv = e.ckr == CKR_PIN_LEN_RANGE ? CKR_PIN_LEN_RANGE : CKR_PIN_INCORRECT;
            break;
        case ErrorCode::pin_locked:
            o.rv = CKR_PIN_LOCKED;
            break;
        case ErrorCode::final_try:
            // The agent tries a last PIN only when the user confirms it (attache unlock
            // --confirm-final-try); no application call is allowed to block the card.
            o.rv = CKR_FUNCTION_CANCELED;
            break;
        case ErrorCode::cancelled:
            o.rv = CKR_FUNCTION_CANCELED;
            break;
        case ErrorCode::token_absent:
        case ErrorCode::unknown_token:
            o.rv = call == Call::operation ? CKR_DEVICE_REMOVED : CKR_TOKEN_NOT_PRESENT;
            o.effect = Effect::token_absent;
            break;
        case ErrorCode::unknown_key:
            o.rv = CKR_KEY_HANDLE_INVALID;
            break;
        case ErrorCode::refused_by_policy:
            o.rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
            break;
        case ErrorCode::refused_by_token:
            o.rv = token_rv(e.ckr);
            break;
        case ErrorCode::bad_request:
            // A login without a PIN on a locked token without PIN pad (until the agent
            // prompts itself): no PIN was entered.
            o.rv = call == Call::login ? CKR_FUNCTION_CANCELED : CKR_FUNCTION_FAILED;
            break;
        case ErrorCode::busy:
            o.rv = CKR_FUNCTION_FAILED;
            break;
        case ErrorCode::device_error:
        case ErrorCode::unsupported_version:
        case ErrorCode::ambiguous_token:
            o.rv = CKR_DEVICE_ERROR;
            break;
        case ErrorCode::internal:
        default:
            o.rv = CKR_GENERAL_ERROR;
            break;
    }
    return o;
}

Outcome outcome_of(const Error& error) {
    Outcome o;
    o.message = error.message();
    const int code = error.code().value_or(kAgentBroken);
    o.rv = code == kAgentReplaced ? CKR_SESSION_HANDLE_INVALID : CKR_DEVICE_ERROR;
    return o;
}

Outcome unexpected_reply(const protocol::Reply& reply) {
    Outcome o;
    o.rv = CKR_DEVICE_ERROR;
    o.message =
        "attache-agent answered with an unexpected reply (" + std::to_string(reply.index()) + ")";
    return o;
}

}  // namespace attache::forwarding
