#pragma once

// The BER-TLV subset PIV uses (SP 800-73-4 part 2): tags of one to three bytes, lengths in the
// short form or 81 / 82 / 83 long forms. Enough for the templates of GENERATE ASYMMETRIC KEY
// PAIR (7F49), GENERAL AUTHENTICATE (7C) and PUT DATA (5C, 53).

#include <cstdint>
#include <optional>
#include <span>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::cli::admin::piv {

// tag (its bytes as written: 0x7F49, 0x5FC105, 0x80), length, value.
Bytes tlv(std::uint32_t tag, std::span<const std::uint8_t> value);

// The value of the first top-level element with `tag` in `data`; nullopt when absent; an
// error when `data` is not a well-formed TLV sequence.
Result<std::optional<Bytes>> find_tlv(std::span<const std::uint8_t> data, std::uint32_t tag);

}  // namespace attache::cli::admin::piv
