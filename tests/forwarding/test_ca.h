#pragma once

// A throwaway certificate authority for the forwarding tests: certificates for the token's
// keys (stored on the token next to them), for a TLS server, written as PEM for the tools.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "pkcs11/bytes.h"

namespace attache::testing {

struct PkeyDeleter {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Deleter {
    void operator()(X509* x) const { X509_free(x); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

enum class Usage { sign, decrypt, derive, tls_server };

class TestCa {
  public:
    TestCa();

    // A DER certificate for `subject_key` (public part used), CN=`name`.
    Bytes issue(EVP_PKEY* subject_key, const std::string& name, Usage usage);
    std::string cert_pem() const;

    static PkeyPtr generate_ec_key();
    static std::string to_pem(const Bytes& certificate_der);
    static std::string private_key_pem(EVP_PKEY* key);
    static std::string public_key_pem(EVP_PKEY* key);

  private:
    PkeyPtr key_;
    X509Ptr cert_;
    long serial_ = 1;
};

}  // namespace attache::testing
