#pragma once

// Cryptographic operations on a key in a session: sign, verify, decrypt, ECDH derive.
// `key_name` names the key in error messages (its PKCS#11 URI, usually).
// `output_hint`, when known (the key size), lets the output buffer be offered at once, saving
// the size-query round trip to the token.

#include <p11-kit/pkcs11.h>

#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "pkcs11/bytes.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"

namespace attache::p11 {

// Runs between C_SignInit / C_DecryptInit and C_Sign / C_Decrypt: the C_Login
// (CKU_CONTEXT_SPECIFIC) a CKA_ALWAYS_AUTHENTICATE key needs for each operation. When it fails
// the operation is ended and its error returned.
using ContextLogin = std::function<Status()>;

Result<Bytes> sign(const Session& session, CK_OBJECT_HANDLE key, Mechanism mechanism,
                   std::span<const uint8_t> data, std::string_view key_name,
                   std::optional<size_t> output_hint = std::nullopt,
                   const ContextLogin& context_login = {});

// Success when the token accepts the signature; CKR_SIGNATURE_INVALID otherwise.
Status verify(const Session& session, CK_OBJECT_HANDLE key, Mechanism mechanism,
              std::span<const uint8_t> data, std::span<const uint8_t> signature,
              std::string_view key_name);

Result<Bytes> decrypt(const Session& session, CK_OBJECT_HANDLE key, Mechanism mechanism,
                      std::span<const uint8_t> ciphertext, std::string_view key_name,
                      std::optional<size_t> output_hint = std::nullopt,
                      const ContextLogin& context_login = {});

// Raw ECDH (CKM_ECDH1_DERIVE, CKD_NULL) with the peer's public point: derives a session-only
// generic secret, reads its value and destroys it. Returns the shared secret (the x coordinate).
Result<Bytes> derive_ecdh(const Session& session, CK_OBJECT_HANDLE key,
                          std::span<const uint8_t> peer_point, size_t secret_size,
                          std::string_view key_name);

// ECDSA signatures: PKCS#11's r||s and the DER SEQUENCE OpenSSL and X.509 use.
Result<Bytes> ecdsa_raw_to_der(std::span<const uint8_t> raw);
Result<Bytes> ecdsa_der_to_raw(std::span<const uint8_t> der, size_t field_bytes);

}  // namespace attache::p11
