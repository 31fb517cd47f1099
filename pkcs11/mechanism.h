#pragma once

// A CK_MECHANISM together with the parameter block it points to (PSS, OAEP, ECDH), and the
// hash algorithms Attache uses.

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "pkcs11/bytes.h"

namespace attache::p11 {

enum class Hash { sha1, sha256, sha384, sha512 };

CK_MECHANISM_TYPE hash_mechanism(Hash hash);  // CKM_SHA256, ...
// CKM_SHA_1, CKM_SHA256, ... back to the hash (PSS and OAEP parameters name hashes by
// mechanism); nullopt for anything else.
std::optional<Hash> hash_from_mechanism(CK_MECHANISM_TYPE hash_mechanism);
const EVP_MD* evp_md(Hash hash);          // EVP_sha256(), ...
CK_RSA_PKCS_MGF_TYPE mgf_for(Hash hash);  // CKG_MGF1_SHA256, ...
size_t hash_size(Hash hash);              // 32 for SHA-256, ...
std::string_view hash_name(Hash hash);    // "sha256", ...
std::optional<Hash> hash_from_name(std::string_view name);
// The hash of `data`, computed with OpenSSL.
Bytes digest(Hash hash, std::span<const uint8_t> data);
// DER DigestInfo (RFC 8017, 9.2) around `digest`: the input CKM_RSA_PKCS signs.
Bytes digest_info(Hash hash, std::span<const uint8_t> digest);

class Mechanism {
  public:
    explicit Mechanism(CK_MECHANISM_TYPE type) : type_(type) {}

    // type: CKM_RSA_PKCS_PSS (input is a digest) or CKM_SHAnnn_RSA_PKCS_PSS.
    static Mechanism rsa_pss(CK_MECHANISM_TYPE type, Hash hash, CK_ULONG salt_length);
    static Mechanism rsa_oaep(Hash hash, Bytes label = {});
    // Raw ECDH (CKD_NULL) with the peer's public point (uncompressed octets).
    static Mechanism ecdh1(Bytes peer_point);

    CK_MECHANISM_TYPE type() const { return type_; }
    // A CK_MECHANISM pointing into this object; valid while this object is neither moved nor
    // destroyed.
    CK_MECHANISM* get();

  private:
    CK_MECHANISM_TYPE type_;
    CK_MECHANISM mechanism_{};
    std::variant<std::monostate, CK_RSA_PKCS_PSS_PARAMS, CK_RSA_PKCS_OAEP_PARAMS,
                 CK_ECDH1_DERIVE_PARAMS>
        params_;
    Bytes data_;  // OAEP label or ECDH peer point
};

}  // namespace attache::p11
