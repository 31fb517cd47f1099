#pragma once

// Keys and signatures made with OpenSSL for the SSH codec's tests: what a token would hold and
// return, and whole SSH signature blobs as a server or ssh-agent would send them.

#include <openssl/evp.h>

#include <cstdint>

#include "agent/ssh/keys.h"
#include "pkcs11/bytes.h"
#include "pkcs11/public_key.h"

namespace attache::ssh::testing {

p11::Pkey generate(KeyType type);
// One key per type for the whole test binary (RSA key generation is slow).
EVP_PKEY* key_for(KeyType type);
// The SSH public key blob of key_for(type).
Bytes blob_for(KeyType type);

// What a PKCS#11 token returns for the plan: RSA PKCS#1 v1.5 bytes, ECDSA raw r||s, Ed25519
// 64 bytes. Made with OpenSSL and the private key.
Bytes token_sign(EVP_PKEY* key, const SignPlan& plan, ByteView data);
// The SSH signature blob (string algorithm, string signature) of `data` by `key`; for RSA
// `flags` picks rsa-sha2-256 or rsa-sha2-512 (SSH_AGENT_RSA_SHA2_*), 0 the SHA-1 ssh-rsa.
Bytes ssh_signature(EVP_PKEY* key, std::uint32_t flags, ByteView data);

// The to-be-signed part (TBSCertificate DER) of an X.509 CA certificate for `key`: what a
// signing oracle would turn into a valid certificate.
Bytes x509_tbs(EVP_PKEY* key);

}  // namespace attache::ssh::testing
