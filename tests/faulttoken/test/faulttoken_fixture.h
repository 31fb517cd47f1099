#pragma once

#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include <string>
#include <vector>

#include "tests/faulttoken/fault_control.h"
#include "tests/support/softhsm.h"
#include "tests/support/temp_dir.h"

namespace attache::faulttoken::testing {

// A fresh SoftHSM2 token behind the fault-injecting module, and a fresh control file for it.
// The module is initialised for the test and finalised after it. Helpers throw on failure.
class FaultTokenTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    // Opens a read-write session on the token.
    CK_SESSION_HANDLE open_session();
    // Logs the user in with SoftHsm::kUserPin.
    void login(CK_SESSION_HANDLE session);
    // C_Login as user with the given PIN; returns the module's answer.
    CK_RV login_with(CK_SESSION_HANDLE session, const std::string& pin);
    // Generates a P-256 key pair on the token (logged-in session); returns the private key.
    CK_OBJECT_HANDLE generate_key(CK_SESSION_HANDLE session);
    // The first private key on the token.
    CK_OBJECT_HANDLE find_private_key(CK_SESSION_HANDLE session);
    // C_SignInit (must succeed) then C_Sign of a 32-byte digest; returns C_Sign's answer.
    CK_RV sign(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key);
    // C_GetTokenInfo; returns its answer and fills info.
    CK_RV token_info(CK_TOKEN_INFO& info);
    // Token flags from C_GetTokenInfo (which must succeed).
    CK_FLAGS token_flags();
    // C_GetSlotList with tokenPresent as given.
    std::vector<CK_SLOT_ID> slot_list(bool token_present);
    // The session's state (CKS_RW_USER_FUNCTIONS...).
    CK_STATE session_state(CK_SESSION_HANDLE session);

    attache::testing::SoftHsm hsm_;
    attache::testing::TempDir dir_{"attache-faulttoken"};
    CK_SLOT_ID slot_ = hsm_.add_token("faulttoken");
    FaultControl control_ = FaultControl::create((dir_ / "control").string());
    CK_FUNCTION_LIST* p11_ = nullptr;
};

// Throws std::runtime_error naming the call and rv unless rv is CKR_OK.
void check(CK_RV rv, const char* call);

}  // namespace attache::faulttoken::testing
