#include "pkcs11/forwarding/sign_input.h"

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include "pkcs11/forwarding/hashes.h"

namespace attache::forwarding {
namespace {

using protocol::SignScheme;

struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigFree {
    void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

// r||s to the DER ECDSA-Sig-Value OpenSSL verifies.
Bytes ecdsa_der(const uint8_t* sig, size_t size) {
    const size_t half = size / 2;
    std::unique_ptr<ECDSA_SIG, SigFree> s(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig, static_cast<int>(half), nullptr);
    BIGNUM* ss = BN_bin2bn(sig + half, static_cast<int>(half), nullptr);
    if (!s || r == nullptr || ss == nullptr || ECDSA_SIG_set0(s.get(), r, ss) != 1) {
        BN_free(r);
        BN_free(ss);
        return {};
    }
    unsigned char* out = nullptr;
    const int len = i2d_ECDSA_SIG(s.get(), &out);
    if (len <= 0)
        return {};
    Bytes der(out, out + len);
    OPENSSL_free(out);
    return der;
}

}  // namespace

SignInput::SignInput(const SignSpec& spec, const PublicKeyInfo& key) : spec_(spec), key_(key) {
    if (spec_.module_hash) {
        md_.reset(EVP_MD_CTX_new());
        if (!md_ || EVP_DigestInit_ex(md_.get(), p11::evp_md(*spec_.module_hash), nullptr) != 1)
            failed_ = true;
    }
}

SignInput::~SignInput() {
    if (!buffer_.empty())
        OPENSSL_cleanse(buffer_.data(), buffer_.size());
}

SignInput::SignInput(SignInput&&) noexcept = default;
SignInput& SignInput::operator=(SignInput&&) noexcept = default;

CK_RV SignInput::check_key() const {
    if (failed_)
        return CKR_HOST_MEMORY;
    if (spec_.scheme == SignScheme::rsa_pss) {
        const auto hash = spec_.wire_hash;
        const size_t h = hash ? p11::hash_size(*hash) : 0;
        // emLen >= hLen + sLen + 2 (RFC 8017, 9.1.1).
        if (key_.field_bytes < h + spec_.pss_salt + 2)
            return CKR_MECHANISM_PARAM_INVALID;
    }
    return CKR_OK;
}

CK_RV SignInput::update(const uint8_t* data, size_t size) {
    if (!spec_.multi_part)
        return CKR_FUNCTION_NOT_SUPPORTED;
    updated_ = true;
    if (md_) {
        if (size > 0 && EVP_DigestUpdate(md_.get(), data, size) != 1)
            return CKR_FUNCTION_FAILED;
        return CKR_OK;
    }
    if (size > kMaxEddsaMessage - buffer_.size())
        return CKR_DATA_LEN_RANGE;
    buffer_.insert(buffer_.end(), data, data + size);
    return CKR_OK;
}

CK_RV SignInput::finish(Bytes& out) {
    if (md_) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(md_.get(), digest, &len) != 1)
            return CKR_FUNCTION_FAILED;
        md_.reset();
        out.assign(digest, digest + len);
        return CKR_OK;
    }
    out = std::move(buffer_);
    buffer_.clear();
    return shape(out);
}

CK_RV SignInput::single(const uint8_t* data, size_t size, Bytes& out) {
    if (spec_.module_hash) {
        out = p11::digest(*spec_.module_hash, std::span<const uint8_t>(data, size));
        return CKR_OK;
    }
    if (spec_.scheme == SignScheme::eddsa && size > kMaxEddsaMessage)
        return CKR_DATA_LEN_RANGE;
    out.assign(data, data + size);
    return shape(out);
}

CK_RV SignInput::shape(Bytes& input) const {
    switch (spec_.scheme) {
        case SignScheme::rsa_pkcs1_raw:
            if (input.empty() || input.size() + 11 > key_.field_bytes)
                return CKR_DATA_LEN_RANGE;
            return CKR_OK;
        case SignScheme::rsa_pss: {
            const auto hash = spec_.wire_hash;
            if (!hash || input.size() != p11::hash_size(*hash))
                return CKR_DATA_LEN_RANGE;
            return CKR_OK;
        }
        case SignScheme::ecdsa:
            if (input.empty())
                return CKR_DATA_LEN_RANGE;
            // ECDSA uses the leftmost bits of the digest up to the order's size: for the
            // byte-aligned curves, exactly the leftmost field_bytes bytes.
            if (input.size() > key_.field_bytes && key_.bits % 8 == 0)
                input.resize(key_.field_bytes);
            if (input.size() > 64)
                return CKR_DATA_LEN_RANGE;
            return CKR_OK;
        case SignScheme::eddsa:
            if (input.size() > kMaxEddsaMessage)
                return CKR_DATA_LEN_RANGE;
            return CKR_OK;
        case SignScheme::rsa_pkcs1:
            return CKR_OK;
    }
    return CKR_GENERAL_ERROR;
}

protocol::SignRequest make_sign_request(const std::string& key_id, const SignSpec& spec,
                                        Bytes input) {
    protocol::SignRequest r;
    r.key = key_id;
    r.scheme = spec.scheme;
    r.hash = spec.wire_hash;
    r.prehashed = spec.prehashed;
    r.pss_salt_length = spec.pss_salt;
    r.ecdsa_der = false;
    r.data = std::move(input);
    return r;
}

CK_RV verify_signature(const SignSpec& spec, const PublicKeyInfo& key, const Bytes& input,
                       const uint8_t* signature, size_t size) {
    if (signature == nullptr || size != signature_size(key))
        return CKR_SIGNATURE_LEN_RANGE;
    if (spec.scheme == SignScheme::eddsa) {
        std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
        if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.pkey.get()) != 1)
            return CKR_FUNCTION_FAILED;
        const int r = EVP_DigestVerify(ctx.get(), signature, size, input.data(), input.size());
        return r == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
    }
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
        EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1)
        return CKR_FUNCTION_FAILED;
    const auto hash = spec.wire_hash;
    const EVP_MD* md = hash ? p11::evp_md(*hash) : nullptr;
    Bytes der;
    const uint8_t* sig = signature;
    size_t sig_size = size;
    switch (spec.scheme) {
        case SignScheme::rsa_pkcs1_raw:
            if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
                return CKR_FUNCTION_FAILED;
            break;
        case SignScheme::rsa_pkcs1:
            if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
                EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) {
                return CKR_FUNCTION_FAILED;
            }
            break;
        case SignScheme::rsa_pss:
            if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) != 1 ||
                EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), static_cast<int>(spec.pss_salt)) != 1) {
                return CKR_FUNCTION_FAILED;
            }
            break;
        case SignScheme::ecdsa:
            der = ecdsa_der(signature, size);
            if (der.empty())
                return CKR_SIGNATURE_INVALID;
            sig = der.data();
            sig_size = der.size();
            break;
        case SignScheme::eddsa:
            break;
    }
    const int r = EVP_PKEY_verify(ctx.get(), sig, sig_size, input.data(), input.size());
    return r == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
}

}  // namespace attache::forwarding
