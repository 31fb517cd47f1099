#include "tests/pkcs11/openssl_check.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>

namespace attache::p11::test {
namespace {

struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};

}  // namespace

std::string OpenSslTool::write(const std::string& name, const Bytes& content) {
    return write(name, to_string(content));
}

std::string OpenSslTool::write(const std::string& name, const std::string& content) {
    attache::testing::write_file(dir_ / name, content);
    return path(name);
}

Bytes OpenSslTool::read(const std::string& name) const {
    return to_bytes(attache::testing::read_file(dir_ / name));
}

attache::testing::CommandResult OpenSslTool::run(const std::vector<std::string>& args,
                                                 const std::string& input) const {
    std::vector<std::string> argv{"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    return attache::testing::run_command(argv, input);
}

bool evp_verify(EVP_PKEY* key, const EVP_MD* md, std::span<const uint8_t> data,
                std::span<const uint8_t> signature, std::optional<int> pss_salt_length) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key) != 1)
        return false;
    if (pss_salt_length) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, *pss_salt_length) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1) {
            return false;
        }
    }
    return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(),
                            data.size()) == 1;
}

bool evp_verify_digest(EVP_PKEY* key, const EVP_MD* md, std::span<const uint8_t> digest,
                       std::span<const uint8_t> signature, std::optional<int> pss_salt_length) {
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new(key, nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1)
        return false;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        int padding = pss_salt_length ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING;
        if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), padding) != 1)
            return false;
        if (pss_salt_length &&
            (EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), *pss_salt_length) != 1 ||
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1)) {
            return false;
        }
    }
    if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1)
        return false;
    return EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(),
                           digest.size()) == 1;
}

Pkey openssl_ec_key(const char* curve) {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
    if (key == nullptr)
        throw std::runtime_error(std::string("OpenSSL cannot generate an EC key on ") + curve);
    return Pkey(key);
}

Bytes public_point(EVP_PKEY* key) {
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &len) != 1)
        throw std::runtime_error("cannot read the EC point");
    Bytes out(len);
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, out.data(), out.size(),
                                        &len) != 1) {
        throw std::runtime_error("cannot read the EC point");
    }
    out.resize(len);
    return out;
}

Bytes openssl_ecdh(EVP_PKEY* priv, EVP_PKEY* peer) {
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new(priv, nullptr));
    size_t len = 0;
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
        EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
        EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) {
        throw std::runtime_error("OpenSSL ECDH setup failed");
    }
    Bytes out(len);
    if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1)
        throw std::runtime_error("OpenSSL ECDH failed");
    out.resize(len);
    return out;
}

Bytes make_certificate(EVP_PKEY* subject_key, const std::string& common_name) {
    Pkey issuer_key = openssl_ec_key("P-256");
    std::unique_ptr<X509, X509Free> cert(X509_new());
    if (!cert)
        throw std::runtime_error("X509_new failed");
    auto set_name = [&](X509_NAME* name, const std::string& cn) {
        return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                          reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                          -1, 0) == 1;
    };
    bool okay = X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
                ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 0x1234) == 1 &&
                set_name(X509_get_subject_name(cert.get()), common_name) &&
                set_name(X509_get_issuer_name(cert.get()), "attache test issuer") &&
                X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) != nullptr &&
                X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24) != nullptr &&
                X509_set_pubkey(cert.get(), subject_key) == 1 &&
                X509_sign(cert.get(), issuer_key.get(), EVP_sha256()) > 0;
    if (!okay)
        throw std::runtime_error("cannot make a test certificate");
    unsigned char* der = nullptr;
    int len = i2d_X509(cert.get(), &der);
    if (len <= 0)
        throw std::runtime_error("cannot encode the test certificate");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

}  // namespace attache::p11::test
