#include "pkcs11/mechanism.h"

#include <openssl/evp.h>

namespace attache::p11 {

CK_MECHANISM_TYPE hash_mechanism(Hash hash) {
    switch (hash) {
        case Hash::sha1:
            return CKM_SHA_1;
        case Hash::sha256:
            return CKM_SHA256;
        case Hash::sha384:
            return CKM_SHA384;
        case Hash::sha512:
            return CKM_SHA512;
    }
    return CKM_SHA256;
}

std::optional<Hash> hash_from_mechanism(CK_MECHANISM_TYPE m) {
    switch (m) {
        case CKM_SHA_1:
            return Hash::sha1;
        case CKM_SHA256:
            return Hash::sha256;
        case CKM_SHA384:
            return Hash::sha384;
        case CKM_SHA512:
            return Hash::sha512;
        default:
            return std::nullopt;
    }
}

const EVP_MD* evp_md(Hash hash) {
    switch (hash) {
        case Hash::sha1:
            return EVP_sha1();
        case Hash::sha256:
            return EVP_sha256();
        case Hash::sha384:
            return EVP_sha384();
        case Hash::sha512:
            return EVP_sha512();
    }
    return nullptr;
}

CK_RSA_PKCS_MGF_TYPE mgf_for(Hash hash) {
    switch (hash) {
        case Hash::sha1:
            return CKG_MGF1_SHA1;
        case Hash::sha256:
            return CKG_MGF1_SHA256;
        case Hash::sha384:
            return CKG_MGF1_SHA384;
        case Hash::sha512:
            return CKG_MGF1_SHA512;
    }
    return CKG_MGF1_SHA256;
}

size_t hash_size(Hash hash) {
    switch (hash) {
        case Hash::sha1:
            return 20;
        case Hash::sha256:
            return 32;
        case Hash::sha384:
            return 48;
        case Hash::sha512:
            return 64;
    }
    return 0;
}

std::string_view hash_name(Hash hash) {
    switch (hash) {
        case Hash::sha1:
            return "sha1";
        case Hash::sha256:
            return "sha256";
        case Hash::sha384:
            return "sha384";
        case Hash::sha512:
            return "sha512";
    }
    return "?";
}

std::optional<Hash> hash_from_name(std::string_view name) {
    for (Hash h : {Hash::sha1, Hash::sha256, Hash::sha384, Hash::sha512}) {
        if (hash_name(h) == name)
            return h;
    }
    return std::nullopt;
}

Bytes digest(Hash hash, std::span<const uint8_t> data) {
    Bytes out(EVP_MAX_MD_SIZE);
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, evp_md(hash), nullptr) != 1)
        return {};
    out.resize(len);
    return out;
}

Bytes digest_info(Hash hash, std::span<const uint8_t> digest) {
    // RFC 8017 section 9.2, note 1: the DER prefixes of DigestInfo for each hash. Plain arrays:
    // no static destructor (attache-pkcs11.so links this file and must register no exit
    // handler, see tests/forwarding/api_test.cpp).
    static constexpr uint8_t kSha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                        0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
    static constexpr uint8_t kSha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x01, 0x05, 0x00, 0x04, 0x20};
    static constexpr uint8_t kSha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x02, 0x05, 0x00, 0x04, 0x30};
    static constexpr uint8_t kSha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x03, 0x05, 0x00, 0x04, 0x40};
    std::span<const uint8_t> prefix = kSha256;
    switch (hash) {
        case Hash::sha1:
            prefix = kSha1;
            break;
        case Hash::sha256:
            prefix = kSha256;
            break;
        case Hash::sha384:
            prefix = kSha384;
            break;
        case Hash::sha512:
            prefix = kSha512;
            break;
    }
    Bytes out(prefix.begin(), prefix.end());
    out.insert(out.end(), digest.begin(), digest.end());
    return out;
}

Mechanism Mechanism::rsa_pss(CK_MECHANISM_TYPE type, Hash hash, CK_ULONG salt_length) {
    Mechanism m(type);
    m.params_ = CK_RSA_PKCS_PSS_PARAMS{hash_mechanism(hash), mgf_for(hash), salt_length};
    return m;
}

Mechanism Mechanism::rsa_oaep(Hash hash, Bytes label) {
    Mechanism m(CKM_RSA_PKCS_OAEP);
    m.data_ = std::move(label);
    m.params_ = CK_RSA_PKCS_OAEP_PARAMS{hash_mechanism(hash), mgf_for(hash), CKZ_DATA_SPECIFIED,
                                        nullptr, 0};
    return m;
}

Mechanism Mechanism::ecdh1(Bytes peer_point) {
    Mechanism m(CKM_ECDH1_DERIVE);
    m.data_ = std::move(peer_point);
    m.params_ = CK_ECDH1_DERIVE_PARAMS{CKD_NULL, 0, nullptr, 0, nullptr};
    return m;
}

CK_MECHANISM* Mechanism::get() {
    mechanism_ = CK_MECHANISM{type_, nullptr, 0};
    if (auto* pss = std::get_if<CK_RSA_PKCS_PSS_PARAMS>(&params_)) {
        mechanism_.pParameter = pss;
        mechanism_.ulParameterLen = sizeof *pss;
    } else if (auto* oaep = std::get_if<CK_RSA_PKCS_OAEP_PARAMS>(&params_)) {
        oaep->pSourceData = data_.empty() ? nullptr : data_.data();
        oaep->ulSourceDataLen = data_.size();
        mechanism_.pParameter = oaep;
        mechanism_.ulParameterLen = sizeof *oaep;
    } else if (auto* ecdh = std::get_if<CK_ECDH1_DERIVE_PARAMS>(&params_)) {
        ecdh->pPublicData = data_.data();
        ecdh->ulPublicDataLen = data_.size();
        mechanism_.pParameter = ecdh;
        mechanism_.ulParameterLen = sizeof *ecdh;
    }
    return &mechanism_;
}

}  // namespace attache::p11
