#pragma once

// Fixtures of the module-helper tests: a TokenTest whose module always runs in a helper, and
// a fault token (tests/faulttoken) over a fresh SoftHSM2 token in a helper, for crashes and
// hangs.

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "pkcs11/module.h"
#include "pkcs11/session.h"
#include "tests/faulttoken/fault_control.h"
#include "tests/pkcs11/fixture.h"
#include "tests/support/softhsm.h"
#include "tests/support/temp_dir.h"

namespace attache::p11::test {

// TokenTest's token, module and logged-in session, the module in a helper process.
class HelperTokenTest : public TokenTest {
  protected:
    Result<Module> load_module(const std::string& spec) override;
};

// The fault token over a fresh SoftHSM2 token, in a helper with `call_timeout()`; a logged-in
// session and a P-256 signing key.
class FaultHelperTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;
    virtual std::chrono::milliseconds call_timeout() const { return std::chrono::seconds(60); }

    // C_SignInit and C_Sign of a 32-byte digest through the raw function list; C_Sign's rv
    // (or C_SignInit's when that failed).
    CK_RV sign_once();

    attache::testing::SoftHsm hsm_;
    attache::testing::TempDir dir_{"attache-helper-fault"};
    CK_SLOT_ID slot_ = 0;
    std::optional<attache::faulttoken::FaultControl> control_;
    std::optional<Module> module_;
    std::optional<Session> session_;
    CK_OBJECT_HANDLE key_ = CK_INVALID_HANDLE;
};

}  // namespace attache::p11::test
