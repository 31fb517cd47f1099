#include "tests/forwarding/test_ca.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace attache::testing {
namespace {

struct BioDeleter {
    void operator()(BIO* b) const { BIO_free(b); }
};

std::string bio_string(BIO* bio) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(len));
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr)
        throw std::runtime_error("bad certificate extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

X509Ptr make_cert(EVP_PKEY* subject_key, const std::string& cn, X509* issuer, long serial) {
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * 30);
    X509_set_pubkey(cert.get(), subject_key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("Attache tests"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    return cert;
}

}  // namespace

PkeyPtr TestCa::generate_ec_key() {
    return PkeyPtr(EVP_EC_gen("P-256"));
}

TestCa::TestCa() : key_(generate_ec_key()) {
    cert_ = make_cert(key_.get(), "Attache test CA", nullptr, serial_++);
    add_ext(cert_.get(), cert_.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert_.get(), cert_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert_.get(), cert_.get(), NID_subject_key_identifier, "hash");
    if (X509_sign(cert_.get(), key_.get(), EVP_sha256()) <= 0)
        throw std::runtime_error("cannot sign the CA certificate");
}

Bytes TestCa::issue(EVP_PKEY* subject_key, const std::string& name, Usage usage) {
    X509Ptr cert = make_cert(subject_key, name, cert_.get(), serial_++);
    add_ext(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), cert_.get(), NID_authority_key_identifier, "keyid");
    switch (usage) {
        case Usage::sign:
            add_ext(cert.get(), cert_.get(), NID_key_usage, "critical,digitalSignature");
            add_ext(cert.get(), cert_.get(), NID_ext_key_usage, "clientAuth,emailProtection");
            break;
        case Usage::decrypt:
            add_ext(cert.get(), cert_.get(), NID_key_usage, "critical,keyEncipherment");
            add_ext(cert.get(), cert_.get(), NID_ext_key_usage, "emailProtection");
            break;
        case Usage::derive:
            add_ext(cert.get(), cert_.get(), NID_key_usage, "critical,keyAgreement");
            add_ext(cert.get(), cert_.get(), NID_ext_key_usage, "emailProtection");
            break;
        case Usage::tls_server:
            add_ext(cert.get(), cert_.get(), NID_key_usage, "critical,digitalSignature");
            add_ext(cert.get(), cert_.get(), NID_ext_key_usage, "serverAuth");
            add_ext(cert.get(), cert_.get(), NID_subject_alt_name, "IP:127.0.0.1");
            break;
    }
    if (X509_sign(cert.get(), key_.get(), EVP_sha256()) <= 0)
        throw std::runtime_error("cannot sign a certificate");
    unsigned char* out = nullptr;
    const int len = i2d_X509(cert.get(), &out);
    Bytes der(out, out + len);
    OPENSSL_free(out);
    return der;
}

std::string TestCa::cert_pem() const {
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert_.get());
    return bio_string(bio.get());
}

std::string TestCa::to_pem(const Bytes& der) {
    const unsigned char* p = der.data();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert.get());
    return bio_string(bio.get());
}

std::string TestCa::private_key_pem(EVP_PKEY* key) {
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    return bio_string(bio.get());
}

std::string TestCa::public_key_pem(EVP_PKEY* key) {
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PUBKEY(bio.get(), key);
    return bio_string(bio.get());
}

}  // namespace attache::testing
