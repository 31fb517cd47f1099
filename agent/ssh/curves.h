#pragma once

// The SSH key types' fixed facts: the ECDSA curves as OpenSSH names them (RFC 5656) with their
// OpenSSL and PKCS#11 counterparts, and Ed25519's sizes (RFC 8709).

#include <openssl/evp.h>

#include <cstddef>
#include <span>
#include <string_view>

#include "agent/ssh/keys.h"
#include "pkcs11/mechanism.h"

namespace attache::ssh {

struct EcdsaCurve {
    KeyType type;
    int nid;
    std::string_view ssh_curve;  // the curve identifier inside the key blob ("nistp256")
    const char* group;           // OpenSSL's group name ("prime256v1")
    size_t field_bytes;
    p11::Hash hash;         // the hash ecdsa-sha2-* signs with
    const EVP_MD* (*md)();  // the same hash for OpenSSL
};

std::span<const EcdsaCurve> ecdsa_curves();
// nullptr for a type that is not ECDSA.
const EcdsaCurve* curve_of(KeyType type);

inline constexpr size_t kEd25519KeyBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;

}  // namespace attache::ssh
