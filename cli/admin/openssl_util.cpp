#include "cli/admin/openssl_util.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <fstream>
#include <iterator>

namespace attache::cli::admin {

std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty())
            out += "; ";
        out += buf;
    }
    return out;
}

Result<std::vector<X509Ptr>> load_certificates(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Error("cannot read " + path);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<X509Ptr> certs;
    if (data.find("-----BEGIN") != std::string::npos) {
        BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
        while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
            certs.emplace_back(cert);
        ERR_clear_error();  // the read that ends the loop leaves "no start line"
    } else {
        const auto* p = reinterpret_cast<const unsigned char*>(data.data());
        X509* cert = d2i_X509(nullptr, &p, static_cast<long>(data.size()));
        if (cert != nullptr)
            certs.emplace_back(cert);
    }
    if (certs.empty())
        return Error(path + " holds no PEM or DER X.509 certificate " + openssl_errors());
    return certs;
}

Bytes certificate_der(X509* cert) {
    unsigned char* out = nullptr;
    int len = i2d_X509(cert, &out);
    if (len <= 0)
        return {};
    Bytes der(out, out + len);
    OPENSSL_free(out);
    return der;
}

std::string sha256_hex(const Bytes& data) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(data.data(), data.size(), digest);
    return hex(digest, sizeof digest);
}

std::string name_string(const X509_NAME* name) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(len));
}

std::string time_string(const ASN1_TIME* time) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(time, &tm) != 1)
        return "invalid";
    return time_string(timegm(&tm));
}

std::string serial_hex(const X509* cert) {
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    if (bn == nullptr)
        return "";
    char* text = BN_bn2hex(bn);
    std::string out = text ? text : "";
    OPENSSL_free(text);
    BN_free(bn);
    return out;
}

CertificateRecord certificate_record(X509* cert, const Bytes& der) {
    return {serial_hex(cert), name_string(X509_get_issuer_name(cert)),
            time_string(X509_get0_notAfter(cert)), sha256_hex(der)};
}

}  // namespace attache::cli::admin
