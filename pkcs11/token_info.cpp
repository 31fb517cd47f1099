#include "pkcs11/token_info.h"

namespace attache::p11 {

std::string trim_padded(const unsigned char* field, size_t size) {
    size_t end = 0;
    // Stop at the first NUL: some modules NUL-terminate instead of padding.
    while (end < size && field[end] != '\0')
        ++end;
    while (end > 0 && (field[end - 1] == ' ' || field[end - 1] == '\t'))
        --end;
    return std::string(reinterpret_cast<const char*>(field), end);
}

SlotInfo to_slot_info(const CK_SLOT_INFO& raw) {
    SlotInfo info;
    info.description = trim_padded(raw.slotDescription, sizeof raw.slotDescription);
    info.manufacturer = trim_padded(raw.manufacturerID, sizeof raw.manufacturerID);
    info.flags = raw.flags;
    return info;
}

namespace {

// Blank padding from the first NUL on: tpm2-pkcs11 pads with NULs, and RFC 7512 URIs (p11-kit's
// matching compares the raw fields) are padded with blanks.
void pad_with_blanks(unsigned char* field, size_t size) {
    size_t i = 0;
    while (i < size && field[i] != '\0')
        ++i;
    for (; i < size; ++i)
        field[i] = ' ';
}

}  // namespace

TokenInfo to_token_info(const CK_TOKEN_INFO& reported) {
    CK_TOKEN_INFO raw = reported;
    pad_with_blanks(raw.label, sizeof raw.label);
    pad_with_blanks(raw.manufacturerID, sizeof raw.manufacturerID);
    pad_with_blanks(raw.model, sizeof raw.model);
    pad_with_blanks(raw.serialNumber, sizeof raw.serialNumber);
    TokenInfo info;
    info.label = trim_padded(raw.label, sizeof raw.label);
    info.manufacturer = trim_padded(raw.manufacturerID, sizeof raw.manufacturerID);
    info.model = trim_padded(raw.model, sizeof raw.model);
    info.serial = trim_padded(raw.serialNumber, sizeof raw.serialNumber);
    info.flags = raw.flags;
    info.min_pin_len = raw.ulMinPinLen;
    info.max_pin_len = raw.ulMaxPinLen;
    info.raw = raw;
    return info;
}

std::string pin_flag_names(CK_FLAGS flags) {
    static constexpr struct {
        CK_FLAGS flag;
        const char* name;
    } kFlags[] = {
        {CKF_USER_PIN_COUNT_LOW, "user-pin-count-low"},
        {CKF_USER_PIN_FINAL_TRY, "user-pin-final-try"},
        {CKF_USER_PIN_LOCKED, "user-pin-locked"},
        {CKF_USER_PIN_TO_BE_CHANGED, "user-pin-to-be-changed"},
        {CKF_SO_PIN_COUNT_LOW, "so-pin-count-low"},
        {CKF_SO_PIN_FINAL_TRY, "so-pin-final-try"},
        {CKF_SO_PIN_LOCKED, "so-pin-locked"},
        {CKF_SO_PIN_TO_BE_CHANGED, "so-pin-to-be-changed"},
        {CKF_PROTECTED_AUTHENTICATION_PATH, "protected-authentication-path"},
    };
    std::string out;
    for (const auto& f : kFlags) {
        if (flags & f.flag) {
            if (!out.empty())
                out += ",";
            out += f.name;
        }
    }
    return out;
}

}  // namespace attache::p11
