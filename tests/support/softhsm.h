#pragma once

#include <p11-kit/pkcs11.h>

#include <string>

#include "tests/support/temp_dir.h"

namespace attache::testing {

// A private SoftHSM2 installation for one test: its own configuration file and token
// directory in a temporary directory, selected for this process (and its children) through
// SOFTHSM2_CONF. Tokens are initialised with the real `softhsm2-util`. Everything is removed
// on destruction. One SoftHsm at a time per process (SOFTHSM2_CONF is process-wide).
class SoftHsm {
  public:
    static constexpr const char* kUserPin = "123456";
    static constexpr const char* kSoPin = "12345678";

    SoftHsm();
    ~SoftHsm();
    SoftHsm(const SoftHsm&) = delete;
    SoftHsm& operator=(const SoftHsm&) = delete;

    // Path of SoftHSM2's PKCS#11 module.
    static const std::string& module_path();

    // Initialises a new token with the given label and the PINs above; returns its slot id.
    CK_SLOT_ID add_token(const std::string& label);

    const TempDir& dir() const { return dir_; }
    std::string conf_path() const { return (dir_ / "softhsm2.conf").string(); }

  private:
    TempDir dir_{"attache-softhsm"};
    std::string previous_conf_;
    bool had_previous_conf_ = false;
};

}  // namespace attache::testing
