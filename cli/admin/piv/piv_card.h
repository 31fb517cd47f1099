#pragma once

// The PIV card commands (SP 800-73-4 part 2) that enrolment sends itself, over a PcscCard:
// SELECT of the PIV application, VERIFY of the application PIN, GENERATE ASYMMETRIC KEY PAIR,
// GENERAL AUTHENTICATE with a key slot, GET DATA and PUT DATA of a slot's certificate object.
//
// GENERATE's answer carries the new public key: SP 800-73-4 has no command to import a private
// key, so a public key in that answer is the card's own statement that it made the pair just
// now, on the card. That is the proof enrolment records; OpenSC's CKA_LOCAL on PIV is not one
// (its PIV emulation reports it true for any key).

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "cli/admin/piv/pcsc_card.h"
#include "pkcs11/keygen.h"
#include "pkcs11/public_key.h"
#include "pkcs11/result.h"
#include "pkcs11/secret.h"

namespace attache::cli::admin::piv {

// Key references of the four PIV key slots.
enum class Slot : std::uint8_t {
    authentication = 0x9A,  // PIV Authentication
    signature = 0x9C,       // Digital Signature (PIN before every use)
    key_management = 0x9D,  // Key Management
    card_auth = 0x9E,       // Card Authentication (no PIN)
};

std::string slot_name(Slot slot);  // "9A"

// GENERAL AUTHENTICATE's instruction byte (SP 800-73-4 part 2, 3.2.4): a key slot's private-key
// operation here, the management key's challenge-response in management_key.cpp.
inline constexpr std::uint8_t kGeneralAuthenticate = 0x87;

// The PIV algorithm identifier (SP 800-78-4) of a key type; nullopt for types PIV has not
// (RSA-4096, Ed25519).
std::optional<std::uint8_t> piv_algorithm(p11::KeyAlgorithm algorithm);

// OpenSC's PKCS#11 CKA_ID for a slot's key (01 9A, 02 9C, 03 9D, 04 9E).
Bytes opensc_key_id(Slot slot);

Status select_piv(PcscCard& card);

// The PIN's tries left from an empty VERIFY (nullopt: already verified; 0: blocked).
Result<std::optional<int>> pin_tries_left(PcscCard& card);
// VERIFY with the application PIN (padded with FF to 8 bytes). A wrong PIN: an error naming
// the tries left.
Status verify_pin(PcscCard& card, const Secret& pin);

// GENERATE ASYMMETRIC KEY PAIR in `slot` (the management key authenticated before); the public
// key from the card's answer.
Result<p11::Pkey> generate(PcscCard& card, Slot slot, p11::KeyAlgorithm algorithm);

// GENERAL AUTHENTICATE: the slot's private-key operation on `input` (RSA: a block as long as
// the modulus, padded by the host; EC: the digest; the card answers a DER ECDSA signature).
Result<Bytes> private_key_operation(PcscCard& card, Slot slot, p11::KeyAlgorithm algorithm,
                                    std::span<const std::uint8_t> input);

// The certificate in the slot's object (nullopt: the object is absent).
Result<std::optional<Bytes>> read_certificate(PcscCard& card, Slot slot);
// PUT DATA of the slot's certificate object (uncompressed), the management key authenticated.
Status write_certificate(PcscCard& card, Slot slot, std::span<const std::uint8_t> der);

}  // namespace attache::cli::admin::piv
