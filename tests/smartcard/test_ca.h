#pragma once

// A throw-away P-256 certificate authority (openssl) in a test's directory: issues certificates
// for the requests `attache enrol` writes, with the key usage each key's role needs, so that
// `attache cert import` takes them.

#include <filesystem>
#include <string>

namespace attache::testing {

class TestCa {
  public:
    // Makes the CA's key (ca.key) and certificate (ca.pem) in `dir`.
    explicit TestCa(std::filesystem::path dir);

    std::string pem() const { return (dir_ / "ca.pem").string(); }
    std::string key() const { return (dir_ / "ca.key").string(); }
    // The certificate (PEM file) for the request `csr` of a key with `role` ("authentication":
    // digitalSignature; "encryption": keyEncipherment for RSA, keyAgreement for EC).
    std::string issue(const std::string& csr, const std::string& role, bool rsa) const;

  private:
    std::filesystem::path dir_;
};

}  // namespace attache::testing
