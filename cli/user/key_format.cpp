#include "cli/user/key_format.h"

#include <openssl/bio.h>
#include <openssl/x509.h>

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

std::string certificate_subject(const Bytes& der) {
    if (der.empty())
        return "";
    const unsigned char* p = der.data();
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (cert == nullptr)
        return "(unreadable certificate)";
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(len));
    BIO_free(bio);
    X509_free(cert);
    return out;
}

}  // namespace attache::cli
