#include "cli/card_errors.h"

namespace attache::cli {

std::string card_error_text(CK_RV rv) {
    switch (rv) {
        case CKR_PIN_INCORRECT:
            return "the PIN was not accepted";
        case CKR_PIN_LOCKED:
            return "the PIN is blocked: an administrator must unblock it (`attache pin unblock`)";
        case CKR_PIN_LEN_RANGE:
        case CKR_PIN_INVALID:
            return "the card does not accept a PIN of this length or with these characters";
        case CKR_PIN_EXPIRED:
            return "the PIN has expired: change it (`attache pin change`)";
        case CKR_USER_PIN_NOT_INITIALIZED:
            return "the card has no user PIN yet";
        case CKR_USER_NOT_LOGGED_IN:
            return "the card is locked: unlock it first";
        case CKR_TOKEN_NOT_PRESENT:
        case CKR_DEVICE_REMOVED:
            return "the card was removed: insert it and try again";
        case CKR_TOKEN_NOT_RECOGNIZED:
            return "the card in the reader is not recognised";
        case CKR_MECHANISM_INVALID:
        case CKR_MECHANISM_PARAM_INVALID:
            return "the card does not support this algorithm";
        case CKR_KEY_FUNCTION_NOT_PERMITTED:
            return "the card does not allow this key to be used for this";
        case CKR_KEY_SIZE_RANGE:
            return "the card does not support this key size";
        case CKR_KEY_TYPE_INCONSISTENT:
            return "this key cannot be used with this algorithm";
        case CKR_DEVICE_MEMORY:
            return "the card is full";
        case CKR_TEMPLATE_INCONSISTENT:
        case CKR_TEMPLATE_INCOMPLETE:
        case CKR_ATTRIBUTE_VALUE_INVALID:
        case CKR_ATTRIBUTE_TYPE_INVALID:
            return "the card refused the object's attributes";
        case CKR_FUNCTION_NOT_SUPPORTED:
            return "the card cannot do this";
        case CKR_ARGUMENTS_BAD:
        case CKR_DOMAIN_PARAMS_INVALID:
            return "the card refused the request's parameters";
        case CKR_TOKEN_WRITE_PROTECTED:
            return "the card is write-protected";
        case CKR_SESSION_EXISTS:
            return "another application has the card open: stop attache-agent and try again";
        case CKR_DATA_INVALID:
        case CKR_DATA_LEN_RANGE:
        case CKR_ENCRYPTED_DATA_INVALID:
        case CKR_ENCRYPTED_DATA_LEN_RANGE:
            return "the card cannot process this data (for decryption: the wrong key, the wrong "
                   "mechanism or damaged data)";
        case CKR_DEVICE_ERROR:
            return "the card or its reader failed: remove and insert the card, then try again";
        case CKR_GENERAL_ERROR:
        case CKR_FUNCTION_FAILED:
            return "the card could not do it (wrong data for this key? if it keeps failing, remove "
                   "and insert the card)";
        default:
            return "the card's driver reported an error";
    }
}

}  // namespace attache::cli
