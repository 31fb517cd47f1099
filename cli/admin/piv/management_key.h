#pragma once

// The PIV card management key (key reference 9B): the admin's credential for generating key
// pairs and writing objects. Read per command from a secret source as hex digits, held only in
// a Secret, never stored, logged or put in a message. Authentication is the mutual one of
// SP 800-73-4 (GENERAL AUTHENTICATE, witness 80, challenge 81, response 82): the card proves it
// knows the key too, so a card that accepts anything is noticed.

#include <cstdint>
#include <optional>
#include <string_view>

#include "cli/admin/piv/pcsc_card.h"
#include "pkcs11/result.h"
#include "pkcs11/secret.h"

namespace attache::cli::admin::piv {

enum class ManagementAlg { tdes, aes128, aes192, aes256 };

// "3des", "aes128", "aes192", "aes256".
std::optional<ManagementAlg> management_alg_from_name(std::string_view name);
std::string_view management_alg_name(ManagementAlg alg);

struct ManagementKey {
    Secret key;                        // the binary key
    std::optional<ManagementAlg> alg;  // nullopt: discovered from the length and the card
};

// Hex digits (spaces and colons allowed) into a key of 16, 24 or 32 bytes; checks the length
// against `alg` when given. The message never contains the key.
Result<ManagementKey> parse_management_key(const Secret& hex, std::optional<ManagementAlg> alg);

// Mutual authentication with the management key. Without a given algorithm: 16 bytes are
// AES-128, 32 AES-256, 24 3DES unless the card answers that its key is not 3DES (then
// AES-192); asking for a witness counts no failed attempt on the card. A wrong key: an error
// that says so; the card then allows no write.
Status authenticate(PcscCard& card, const ManagementKey& key);

}  // namespace attache::cli::admin::piv
