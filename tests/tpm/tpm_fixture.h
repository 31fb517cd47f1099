#pragma once

// A TPM token for the agent, made as on a machine with a TPM: swtpm (a software TPM 2.0) on
// a loopback port with its state in the test's directory; tpm2-abrmd, the resource manager
// (the kernel's /dev/tpmrm0 on a real machine), on a private D-Bus session bus; a
// tpm2-pkcs11 store in the test's directory with one token made by tpm2_ptool; and
// attache-agent serving that token through Debian's libtpm2_pkcs11.so. Every process is the
// test's own, started and stopped by pid.
//
// Issue 15 reported NUL-padded token strings from tpm2-pkcs11; Debian 12's 1.9.0 pads the
// label with spaces (as C_GetTokenInfo shows), so the NUL case stays with the fault token's
// test (tests/agent/real_lock_test.cpp); these tests check the label and the URI the agent
// makes of the real token's strings.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/agent/agent_fixture.h"
#include "tests/forwarding/background.h"
#include "tests/forwarding/test_ca.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {

class TpmTokenTest : public ::testing::Test {
  protected:
    static constexpr const char* kModule = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";
    static constexpr const char* kLabel = "attache-tpm";

    // Skips where a part is missing; starts swtpm, the bus and tpm2-abrmd, makes the token
    // (SO PIN SoftHsm::kSoPin, user PIN SoftHsm::kUserPin) with a P-256 key "tpm-ec" and an
    // RSA-2048 key "tpm-rsa" with a certificate for signing, and starts the agent on it.
    void SetUp() override;

    // The agent's status of the token (the only one it serves).
    protocol::TokenStatus token();
    // Signs with the key through the agent (unlocked), verifies with OpenSSL.
    void signs_and_openssl_verifies(const std::string& label);

  private:
    void start_tpm();
    void make_token();
    // tpm2_ptool on the test's store; fails the test when it fails.
    void ptool(std::vector<std::string> args);

  protected:
    TempDir dir_{"attache-tpm-test"};
    TestCa ca_;
    // Declared in start order: destroyed (stopped) in reverse, the agent first.
    std::unique_ptr<Background> swtpm_, bus_, abrmd_;
    AgentFixture agent_;
};

}  // namespace attache::testing
