#pragma once

// Finds the keys of a token. Locked, a token shows only its public objects (public keys and
// certificates): the keys are listed from those, unverified. Unlocked, the private keys are
// read as well, and each is checked against the policy: only keys that are sensitive and were
// never extractable are served (unless the admin allows others), and only for the operations
// both the key's usage attributes and its certificate's key usage allow.

#include <vector>

#include "agent/core/key_record.h"
#include "pkcs11/attribute_template.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"
#include "pkcs11/token_info.h"

namespace attache::agent {

struct ScanPolicy {
    bool allow_extractable_keys = false;
    // Object attributes (id, label) from the configured URI; empty: every key.
    p11::AttributeTemplate object_filter;
};

Result<std::vector<KeyRecord>> scan_keys(const p11::Session& session, const p11::TokenInfo& token,
                                         bool logged_in, const ScanPolicy& policy);

// The lower-case hex SHA-256 of a SubjectPublicKeyInfo (KeyRecord::spki_sha256).
std::string spki_sha256_hex(const Bytes& spki);
// The stable key id: the first 16 hex digits of SHA-256 over the SubjectPublicKeyInfo.
std::string key_id_for(const Bytes& spki);

// KeyOperation mask a certificate's key usage extension allows (all when it has none).
uint32_t certificate_allowed_operations(const Bytes& certificate_der);

}  // namespace attache::agent
