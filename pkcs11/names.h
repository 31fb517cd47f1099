#pragma once

// Names of PKCS#11 constants for messages: "CKR_PIN_INCORRECT", "CKM_ECDSA". Unknown values
// are printed in hex.

#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>
#include <string_view>

namespace attache::p11 {

std::string rv_name(CK_RV rv);
std::string mechanism_name(CK_MECHANISM_TYPE mechanism);
std::string key_type_name(CK_KEY_TYPE type);
std::optional<CK_RV> rv_from_name(std::string_view name);
std::optional<CK_MECHANISM_TYPE> mechanism_from_name(std::string_view name);

}  // namespace attache::p11
