#pragma once

#include <p11-kit/pkcs11.h>

#include <string>

namespace attache::p11 {

// CK_SLOT_INFO with its blank-padded strings trimmed.
struct SlotInfo {
    std::string description;
    std::string manufacturer;
    CK_FLAGS flags = 0;

    bool token_present() const { return (flags & CKF_TOKEN_PRESENT) != 0; }
    bool removable() const { return (flags & CKF_REMOVABLE_DEVICE) != 0; }
};

// CK_TOKEN_INFO with its padded strings trimmed; `raw` keeps the original for URI matching,
// its strings padded with blanks from the first NUL on (tpm2-pkcs11 pads with NULs; URIs with
// blanks).
struct TokenInfo {
    std::string label;
    std::string manufacturer;
    std::string model;
    std::string serial;
    CK_FLAGS flags = 0;
    CK_ULONG min_pin_len = 0;
    CK_ULONG max_pin_len = 0;
    CK_TOKEN_INFO raw{};

    bool login_required() const { return (flags & CKF_LOGIN_REQUIRED) != 0; }
    bool protected_authentication_path() const {
        return (flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
    }
    bool user_pin_count_low() const { return (flags & CKF_USER_PIN_COUNT_LOW) != 0; }
    bool user_pin_final_try() const { return (flags & CKF_USER_PIN_FINAL_TRY) != 0; }
    bool user_pin_locked() const { return (flags & CKF_USER_PIN_LOCKED) != 0; }
    bool so_pin_count_low() const { return (flags & CKF_SO_PIN_COUNT_LOW) != 0; }
    bool so_pin_final_try() const { return (flags & CKF_SO_PIN_FINAL_TRY) != 0; }
    bool so_pin_locked() const { return (flags & CKF_SO_PIN_LOCKED) != 0; }
    bool initialized() const { return (flags & CKF_TOKEN_INITIALIZED) != 0; }
};

// Trims the blank padding (and any NULs) PKCS#11 puts at the end of fixed-size strings.
std::string trim_padded(const unsigned char* field, size_t size);

SlotInfo to_slot_info(const CK_SLOT_INFO& raw);
TokenInfo to_token_info(const CK_TOKEN_INFO& reported);

// Names of the PIN-related token flags set, e.g. "user-pin-count-low,user-pin-final-try".
std::string pin_flag_names(CK_FLAGS flags);

}  // namespace attache::p11
