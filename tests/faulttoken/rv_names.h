#pragma once

#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>
#include <string_view>

namespace attache::faulttoken {

// The CKR_ name of a return value, e.g. "CKR_PIN_LOCKED", or "0x000000A4"-style hex if unnamed.
std::string rv_name(CK_RV rv);

// Parses a CKR_ name (e.g. "CKR_DEVICE_ERROR") or a number ("0x30", "48"); nullopt if neither.
std::optional<CK_RV> parse_rv(std::string_view text);

}  // namespace attache::faulttoken
