#pragma once

// The two key pairs an enrolment puts on a card, and what the token must support for them.
//
//   authentication  "<holder> authentication"  sign only (TLS client auth, S/MIME signatures)
//   encryption      "<holder> encryption"      RSA: decrypt + sign; EC: derive + sign
//   card-auth       "<holder> card authentication"  PIV cards only (slot 9E, EC P-256, no
//                   PIN): the broker's challenge that the card is the enrolled one; its
//                   self-signed certificate is written by enrolment, no request (card_auth.h)
//
// The encryption key carries CKA_SIGN only so that it can sign its own certificate request
// (PKCS#10 proves possession with a signature). The agent serves each key only for the
// operations its certificate's key usage allows, and `cert import` refuses an encryption
// certificate whose key usage would allow signatures.
//
// Ed25519 is signature-only, so with --key-type ed25519 the encryption key is EC P-256 (or
// --encryption-key-type).

#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pkcs11/keygen.h"
#include "pkcs11/module.h"
#include "pkcs11/result.h"

namespace attache::cli::admin {

enum class KeyRole { authentication, encryption, card_auth };

std::string_view role_name(KeyRole role);
std::optional<KeyRole> role_from_name(std::string_view name);

struct PlannedKey {
    KeyRole role = KeyRole::authentication;
    p11::KeyAlgorithm algorithm = p11::KeyAlgorithm::ec_p256;
    p11::KeyUsage usage;
    std::string label;
};

std::string key_label(const std::string& holder, KeyRole role);
bool is_rsa(p11::KeyAlgorithm algorithm);

// The authentication key of type `key_type` and the encryption key (`encryption_type`, or the
// same type, or EC P-256 for Ed25519). Error for an Ed25519 encryption key.
Result<std::vector<PlannedKey>> plan_keys(const std::string& holder, p11::KeyAlgorithm key_type,
                                          std::optional<p11::KeyAlgorithm> encryption_type);

// The PIV card-authentication key: EC P-256, sign only, generated in slot 9E.
PlannedKey card_auth_key(const std::string& holder);

// One mechanism a key needs (any of `mechanisms`, with `flags`, supporting `bits` when set).
struct MechanismNeed {
    std::vector<CK_MECHANISM_TYPE> mechanisms;
    CK_FLAGS flags = 0;
    CK_ULONG bits = 0;
    std::string purpose;  // "generate rsa-2048 key pairs"
};

std::vector<MechanismNeed> mechanism_needs(const PlannedKey& key);

// What the token lacks for these needs, one sentence each (empty: all met).
std::vector<std::string> unmet_needs(const p11::Module& module, CK_SLOT_ID slot,
                                     const std::vector<MechanismNeed>& needs);

// The key types (key_algorithm_name) the token can enrol with default options.
std::vector<std::string> enrollable_key_types(const p11::Module& module, CK_SLOT_ID slot);

}  // namespace attache::cli::admin
