#include "cli/user/key_format.h"

#include <openssl/bio.h>
#include <openssl/x509.h>

#include <memory>

#include "cli/timestamp.h"

namespace attache::cli {

std::string key_type_name(protocol::KeyType type) {
    switch (type) {
        case protocol::KeyType::rsa:
            return "rsa";
        case protocol::KeyType::ec:
            return "ec";
        case protocol::KeyType::ed25519:
            return "ed25519";
    }
    return "unknown";
}

std::vector<std::string> operation_names(uint32_t operations) {
    std::vector<std::string> out;
    if (operations & protocol::kOpSign)
        out.push_back("sign");
    if (operations & protocol::kOpDecrypt)
        out.push_back("decrypt");
    if (operations & protocol::kOpDerive)
        out.push_back("derive");
    return out;
}

namespace {

struct X509Free {
    void operator()(X509* cert) const { X509_free(cert); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// The certificate, or null for none or an unreadable one.
X509Ptr parse_certificate(const Bytes& der) {
    if (der.empty())
        return nullptr;
    const unsigned char* p = der.data();
    return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

}  // namespace

std::string certificate_subject(const Bytes& der) {
    X509Ptr cert = parse_certificate(der);
    if (!cert)
        return der.empty() ? "" : "(unreadable certificate)";
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(len));
    BIO_free(bio);
    return out;
}

std::string certificate_not_after(const Bytes& der) {
    X509Ptr cert = parse_certificate(der);
    std::tm tm{};
    if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1)
        return "";
    return time_string(timegm(&tm));
}

}  // namespace attache::cli
