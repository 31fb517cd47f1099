#pragma once

// The conformance probe: one list of PKCS#11 checks run against any module on one token,
// each recorded under a stable name as a return code (and, where it matters, a value or a
// verdict). The suite runs it on SoftHSM2 directly and through attache-pkcs11.so on the same
// token and compares the two records (conformance_test.cpp).

#include <p11-kit/pkcs11.h>

#include <map>
#include <string>

#include "tests/forwarding/test_ca.h"

namespace attache::testing {

using Record = std::map<std::string, std::string>;

struct ProbeKeys {
    // The public keys of the token's keys, by label, to check results independently.
    std::map<std::string, EVP_PKEY*> public_keys;
};

class Probe {
  public:
    Probe(CK_FUNCTION_LIST& p11, CK_SLOT_ID slot, std::string pin, ProbeKeys keys)
        : p11_(p11), slot_(slot), pin_(std::move(pin)), keys_(std::move(keys)) {}

    // Every check, in order; the token starts locked (no application logged in).
    Record run();

  private:
    void general();
    void sessions();
    void login_state();
    void finding();
    void attributes();
    void signing();
    void verifying();
    void decrypting();
    void deriving();
    void operation_state();
    void random();
    void threads();
    void fork_child();

    void rv(const std::string& name, CK_RV value);
    void put(const std::string& name, const std::string& value) { out_[name] = value; }
    CK_RV login();
    CK_SESSION_HANDLE open(bool rw = false);
    std::vector<CK_OBJECT_HANDLE> find(CK_SESSION_HANDLE s, std::vector<CK_ATTRIBUTE> t);
    CK_OBJECT_HANDLE object(CK_SESSION_HANDLE s, CK_OBJECT_CLASS klass, const std::string& label);
    std::string attribute(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);

    CK_FUNCTION_LIST& p11_;
    CK_SLOT_ID slot_;
    std::string pin_;
    ProbeKeys keys_;
    CK_SESSION_HANDLE s_ = 0;  // the main session (read-only)
    Record out_;
};

}  // namespace attache::testing
