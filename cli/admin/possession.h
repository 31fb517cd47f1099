#pragma once

// Proof that a key on the card is the private half of a public key, by a fresh operation the
// key is allowed (so keys the module marks decrypt-only or derive-only, as OpenSC marks PIV's
// key-management key 9D, are checked too):
//   CKA_SIGN    a random challenge signed on the card verifies with the public key;
//   CKA_DECRYPT (RSA) a random secret encrypted with the public key (PKCS#1 v1.5) decrypts to
//               itself on the card;
//   CKA_DERIVE  (EC) ECDH with an ephemeral key gives on the card the secret OpenSSL computes.

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <string>

#include "pkcs11/attribute_values.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"

namespace attache::cli::admin {

// Success: the card's key answered for `public_key`. The error says what failed (the card's
// refusal, or "does not verify ...": another key).
Status prove_possession(const p11::Session& session, CK_OBJECT_HANDLE private_key,
                        EVP_PKEY* public_key, const p11::AttributeValues& attributes,
                        const std::string& key_name);

}  // namespace attache::cli::admin
