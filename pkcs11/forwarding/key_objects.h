#pragma once

// From one key the agent lists to the objects an application sees: a private key (when the
// agent serves the key), a public key (from its SubjectPublicKeyInfo) and a certificate (when
// the agent reports one). Every value is built here from DER with OpenSSL, bounded by the
// input: the agent's reply is untrusted input.

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/forwarding/attribute_set.h"
#include "pkcs11/result.h"

namespace attache::forwarding {

struct ObjectSpec {
    CK_OBJECT_CLASS klass = CKO_DATA;
    bool is_private = false;  // visible only while the application is logged in
    AttributeSet attributes;
};

struct PublicKeyInfo {
    protocol::KeyType type = protocol::KeyType::ec;
    uint32_t bits = 0;
    size_t field_bytes = 0;  // RSA: modulus bytes; EC: field bytes; Ed25519: 32
    std::shared_ptr<EVP_PKEY> pkey;
};

struct KeyObjects {
    std::string key_id;  // the agent's key id: what sign and decrypt requests name
    PublicKeyInfo key;
    uint32_t operations = 0;           // protocol::KeyOperation mask the agent serves
    bool always_authenticate = false;  // the token wants the PIN before every use
    uint32_t decrypt_support = 0;      // protocol::DecryptSupport mask; 0: not known
    std::vector<ObjectSpec> objects;
};

// The public key of a DER SubjectPublicKeyInfo; error when it is not RSA, a named prime
// curve (P-256, P-384, P-521) or Ed25519.
Result<PublicKeyInfo> parse_public_key(const Bytes& spki);

// The objects for one key entry. Error: the entry is unusable (bad SPKI, a type that does not
// match, a malformed certificate is only left out).
Result<KeyObjects> build_key_objects(const protocol::KeyEntry& entry);

// A CA certificate stored on the token: a certificate object of category 2 (authority).
// Error: the DER is no certificate.
Result<ObjectSpec> build_authority_object(const protocol::AuthorityCertificate& authority);

// The size of a signature by this key in PKCS#11's format.
size_t signature_size(const PublicKeyInfo& key);

// DER OCTET STRING around `content` (CKA_EC_POINT's encoding).
Bytes der_octet_string(const Bytes& content);
// The content of a DER OCTET STRING filling all of `der`; empty on any error.
Bytes der_octet_string_content(const uint8_t* der, size_t size);

}  // namespace attache::forwarding
