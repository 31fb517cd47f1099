#pragma once

// SSH public keys and signatures for the keys Attache holds on tokens (RFC 4253 section 6.6,
// RFC 5656 for ECDSA, RFC 8709 for Ed25519, RFC 8332 for RSA with SHA-2):
//   - the public key blob (what SSH_AGENT_IDENTITIES_ANSWER lists and sign requests name),
//     its SHA256 fingerprint and its authorized_keys line, from an OpenSSL EVP_PKEY;
//   - what a token must do for a sign request (which hash, which signature algorithm name);
//   - the signature blob from what a PKCS#11 token returns.

#include <openssl/evp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/ssh/wire.h"
#include "pkcs11/bytes.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/result.h"

namespace attache::ssh {

enum class KeyType { kRsa, kEcdsaP256, kEcdsaP384, kEcdsaP521, kEd25519 };

// "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-ed25519".
std::string_view key_type_name(KeyType type);
Result<KeyType> key_type_from_name(std::string_view name);
// The key type of an OpenSSL key: RSA, EC on P-256/P-384/P-521, or Ed25519.
Result<KeyType> key_type_of(const EVP_PKEY* key);
// The key type a public key blob names in its first field (the rest is not checked).
Result<KeyType> key_type_of_blob(ByteView blob);

// The SSH public key blob:
//   RSA:     string "ssh-rsa", mpint e, mpint n
//   ECDSA:   string "ecdsa-sha2-nistpN", string "nistpN", string Q (uncompressed point)
//   Ed25519: string "ssh-ed25519", string A (32 bytes)
Result<Bytes> public_key_blob(const EVP_PKEY* key);

// "SHA256:" + unpadded base64 of the SHA-256 of the blob, as `ssh-keygen -l` prints it.
std::string fingerprint_sha256(ByteView blob);

// "TYPE BASE64 COMMENT" (no trailing space when the comment is empty), one authorized_keys
// line without its newline. A comment with control characters (a newline would start another
// key line) is refused.
Result<std::string> authorized_keys_line(ByteView blob, std::string_view comment);
Result<std::string> authorized_keys_line(const EVP_PKEY* key, std::string_view comment);

// What the token must do for one sign request.
//   RSA:     PKCS#1 v1.5 over `hash` of the data (CKM_SHA256_RSA_PKCS / CKM_SHA512_RSA_PKCS /
//            CKM_SHA1_RSA_PKCS, or CKM_RSA_PKCS over a DigestInfo).
//   ECDSA:   ECDSA over `hash` of the data (CKM_ECDSA over the digest); raw r||s back.
//   Ed25519: EdDSA over the data itself (CKM_EDDSA); 64 bytes back.
struct SignPlan {
    KeyType key_type = KeyType::kEd25519;
    // nullopt: Ed25519 signs the message itself (PureEdDSA, CKM_EDDSA).
    std::optional<p11::Hash> hash;
    // The signature algorithm name in the signature blob: "rsa-sha2-256", "rsa-sha2-512",
    // "ssh-rsa", "ecdsa-sha2-nistp256", ..., "ssh-ed25519".
    std::string_view algorithm;
};

// For RSA, the flags pick the hash: SSH_AGENT_RSA_SHA2_256 (checked first, as OpenSSH does) or
// SSH_AGENT_RSA_SHA2_512; with neither, the legacy "ssh-rsa" (SHA-1) is refused unless
// allow_ssh_rsa_sha1. ECDSA hashes with the curve's hash (SHA-256 for P-256, SHA-384 for P-384,
// SHA-512 for P-521); Ed25519 signs the data. Flags are ignored for keys other than RSA.
Result<SignPlan> plan_signature(KeyType key_type, std::uint32_t flags, bool allow_ssh_rsa_sha1);

// The SSH signature blob (string algorithm, string signature) from the token's output:
//   RSA:     the raw PKCS#1 v1.5 signature, as is;
//   ECDSA:   PKCS#11's raw r||s (each half the curve's field size) becomes string(mpint r,
//            mpint s);
//   Ed25519: the 64-byte signature, as is.
// Fails on an output of the wrong size for the key type.
Result<Bytes> encode_signature(const SignPlan& plan, ByteView token_signature);

}  // namespace attache::ssh
