#pragma once

// Parsing of attache-faultctl's argument values.

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace attache::faulttoken {

// A decimal or 0x-hex number without sign.
std::optional<std::uint64_t> parse_unsigned(std::string_view text);

// A decimal number, possibly negative.
std::optional<std::int64_t> parse_signed(std::string_view text);

// A slot id (decimal or 0x hex), or "all" / "any" for kAnySlot.
std::optional<CK_SLOT_ID> parse_slot(std::string_view text);

// A token flag name (CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED,
// CKF_PROTECTED_AUTHENTICATION_PATH, ...) or a number.
std::optional<CK_FLAGS> parse_token_flag(std::string_view text);

}  // namespace attache::faulttoken
