#pragma once

// Small OpenSSL helpers for the admin commands: owning pointers, PEM/DER loading, fingerprints
// and printable names and times.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "cli/admin/inventory.h"
#include "cli/timestamp.h"
#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::cli::admin {

template <typename T, void (*Free)(T*)>
struct OpenSslFree {
    void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509, X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OpenSslFree<X509_REQ, X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslFree<X509_NAME, X509_NAME_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO, BIO_free_all>>;

// The queued OpenSSL error reasons, "; "-joined (empty when none); clears the queue.
std::string openssl_errors();

// Certificates from a PEM file (one or more) or a DER file (one).
Result<std::vector<X509Ptr>> load_certificates(const std::string& path);

Bytes certificate_der(X509* cert);
// Lower-case hex SHA-256.
std::string sha256_hex(const Bytes& data);

// RFC 2253 form, "CN=Alice,O=Ministry,C=FR".
std::string name_string(const X509_NAME* name);
// "2031-05-01T12:00:00Z" (cli/timestamp.h).
using cli::time_string;
std::string time_string(const ASN1_TIME* time);
// Serial number in upper-case hex.
std::string serial_hex(const X509* cert);
// What the inventory records of a certificate (`der` is its encoding).
CertificateRecord certificate_record(X509* cert, const Bytes& der);

}  // namespace attache::cli::admin
