#pragma once

// X.509-style signatures made by a key on the card: the AlgorithmIdentifier to announce and the
// signature value in the form X.509 carries (PKCS#1 v1.5 for RSA, a DER ECDSA-Sig-Value for
// ECDSA, the raw 64 bytes for Ed25519). The digest is computed here, so the card only needs the
// raw mechanisms (CKM_RSA_PKCS, CKM_ECDSA, CKM_EDDSA), which most cards have.

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "pkcs11/bytes.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"

namespace attache::cli::admin {

struct CardSignatureAlgorithm {
    int signature_nid = 0;          // NID_sha256WithRSAEncryption, NID_ecdsa_with_SHA384, ...
    bool null_parameters = false;   // RSA's AlgorithmIdentifier carries a NULL
    std::optional<p11::Hash> hash;  // nullopt: Ed25519 signs the message itself
    CK_MECHANISM_TYPE mechanism = 0;
};

// RSA: sha256WithRSAEncryption; P-256: ecdsa-with-SHA256; P-384: ecdsa-with-SHA384; Ed25519.
Result<CardSignatureAlgorithm> card_signature_algorithm(EVP_PKEY* public_key);

// A signature of `message` by a key on the card, in the form X.509 carries.
using CardSigner = std::function<Result<Bytes>(const CardSignatureAlgorithm& algorithm,
                                               std::span<const uint8_t> message)>;

Result<Bytes> sign_on_card(const p11::Session& session, CK_OBJECT_HANDLE private_key,
                           const CardSignatureAlgorithm& algorithm,
                           std::span<const uint8_t> message, std::string_view key_name);

// Checks with OpenSSL that `signature` (as sign_on_card returns it) is `public_key`'s over
// `message`.
bool signature_verifies(EVP_PKEY* public_key, const CardSignatureAlgorithm& algorithm,
                        std::span<const uint8_t> message, std::span<const uint8_t> signature);

}  // namespace attache::cli::admin
