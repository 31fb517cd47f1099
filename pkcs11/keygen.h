#pragma once

// Key-pair generation on the token with every boolean attribute set explicitly: the private
// key is token-resident, private, sensitive and never extractable, with only the usages asked
// for (SoftHSM2 and some cards grant unasked usages when an attribute is left out).

#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>
#include <string_view>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"

namespace attache::p11 {

enum class KeyAlgorithm { rsa2048, rsa3072, rsa4096, ec_p256, ec_p384, ed25519 };

std::string_view key_algorithm_name(KeyAlgorithm alg);  // "rsa-2048", "ec-p256", ...
std::optional<KeyAlgorithm> key_algorithm_from_name(std::string_view name);
CK_MECHANISM_TYPE generation_mechanism(KeyAlgorithm alg);
CK_KEY_TYPE key_type_of(KeyAlgorithm alg);

struct KeyUsage {
    bool sign = false;
    bool decrypt = false;
    bool derive = false;
};

struct KeyPairSpec {
    KeyAlgorithm algorithm = KeyAlgorithm::ec_p256;
    KeyUsage usage;
    std::string label;
    // Empty: the SHA-1 of the public key (modulus or point), set after generation.
    Bytes id;
    bool token = true;  // false: session objects, for tests
    // CKA_ALWAYS_AUTHENTICATE: the PIN before every use (C_Login CKU_CONTEXT_SPECIFIC).
    bool always_authenticate = false;
};

struct KeyPairHandles {
    CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
    Bytes id;
};

Result<KeyPairHandles> generate_key_pair(Session& session, const KeyPairSpec& spec);

}  // namespace attache::p11
