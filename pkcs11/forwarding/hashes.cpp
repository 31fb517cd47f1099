#include "pkcs11/forwarding/hashes.h"

namespace attache::forwarding {

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

size_t digest_size(Hash hash) {
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

CK_RSA_PKCS_MGF_TYPE mgf1_for(Hash hash) {
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
    return 0;
}

Bytes digest_of(Hash hash, std::span<const uint8_t> data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out, &len, evp_md(hash), nullptr) != 1)
        return {};
    return Bytes(out, out + len);
}

protocol::HashAlg wire_hash(Hash hash) {
    switch (hash) {
        case Hash::sha1:
            return protocol::HashAlg::sha1;
        case Hash::sha256:
            return protocol::HashAlg::sha256;
        case Hash::sha384:
            return protocol::HashAlg::sha384;
        case Hash::sha512:
            return protocol::HashAlg::sha512;
    }
    return protocol::HashAlg::none;
}

std::optional<Hash> from_wire(protocol::HashAlg hash) {
    switch (hash) {
        case protocol::HashAlg::sha1:
            return Hash::sha1;
        case protocol::HashAlg::sha256:
            return Hash::sha256;
        case protocol::HashAlg::sha384:
            return Hash::sha384;
        case protocol::HashAlg::sha512:
            return Hash::sha512;
        case protocol::HashAlg::none:
            break;
    }
    return std::nullopt;
}

std::optional<Hash> hash_of_mechanism(CK_MECHANISM_TYPE m) {
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

}  // namespace attache::forwarding
