#pragma once

// The private keys on a token, each paired with its public key and certificate by CKA_ID
// (the PKCS#11 convention), with the attributes that decide whether Attache may serve it.

#include <p11-kit/pkcs11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pkcs11/attribute_template.h"
#include "pkcs11/bytes.h"
#include "pkcs11/public_key.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"

namespace attache::p11 {

struct KeyObject {
    CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
    std::optional<CK_OBJECT_HANDLE> public_key;
    std::optional<CK_OBJECT_HANDLE> certificate;
    Bytes id;
    std::string label;
    CK_KEY_TYPE key_type = 0;
    size_t bits = 0;

    // Usages the private key allows.
    bool can_sign = false;
    bool can_decrypt = false;
    bool can_derive = false;
    bool always_authenticate = false;
    // Provenance: what makes a key safe to serve.
    bool sensitive = false;
    bool extractable = true;
    bool never_extractable = false;
    bool always_sensitive = false;
    bool local = false;

    // Null when neither a public key object, a certificate nor the private key itself (RSA)
    // yields the public key.
    std::shared_ptr<EVP_PKEY> pkey;
    Bytes spki;             // SubjectPublicKeyInfo DER; empty with pkey
    Bytes certificate_der;  // empty without a certificate

    // Sensitive, not extractable and never was: the key cannot have left the token.
    bool hardware_bound() const { return sensitive && !extractable && never_extractable; }
};

// All private keys matching `filter` (empty: all), in the token's order.
Result<std::vector<KeyObject>> find_keys(const Session& session,
                                         const AttributeTemplate& filter = {});

}  // namespace attache::p11
