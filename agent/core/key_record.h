#pragma once

// One key the agent knows on a token: what `list keys` reports and what an operation needs.
// Immutable once published; a token rescan publishes new records.

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <memory>
#include <optional>
#include <string>

#include "pkcs11/agent_protocol/vocabulary.h"
#include "pkcs11/bytes.h"

namespace attache::agent {

struct KeyRecord {
    std::string id;   // stable key id (from the public key)
    std::string uri;  // PKCS#11 URI of the private key
    std::string label;
    Bytes cka_id;
    protocol::KeyType type = protocol::KeyType::ec;
    uint32_t bits = 0;
    uint32_t operations = 0;  // protocol::KeyOperation mask the agent serves
    bool served = true;
    std::string refusal;    // why not served
    bool verified = false;  // the private key's attributes were read (token unlocked)
    // CKA_ALWAYS_AUTHENTICATE: the token wants the PIN again for every operation.
    bool always_authenticate = false;
    // protocol::DecryptSupport mask: the decryptions the token does with this key; 0 while
    // not known (locked, or no decryption key).
    uint32_t decrypt_support = 0;
    Bytes spki;
    // Lower-case hex SHA-256 of `spki` (what a card manifest lists), computed once when the key
    // is scanned; empty without a public key.
    std::string spki_sha256;
    Bytes certificate;
    std::string certificate_label;   // the certificate object's own CKA_LABEL
    std::shared_ptr<EVP_PKEY> pkey;  // null when no public key could be found
    CK_OBJECT_HANDLE private_handle = CK_INVALID_HANDLE;

    size_t field_bytes() const { return (bits + 7) / 8; }
    size_t signature_size() const {
        switch (type) {
            case protocol::KeyType::rsa:
                return field_bytes();
            case protocol::KeyType::ec:
                return 2 * field_bytes();
            case protocol::KeyType::ed25519:
                return 64;
        }
        return 0;
    }
};

// A certificate authority's certificate stored on a token (`attache cert import --chain`):
// no key of the token's, listed so applications can build the chain from the card.
struct AuthorityRecord {
    std::string label;
    Bytes cka_id;
    Bytes certificate;  // DER
};

}  // namespace attache::agent
