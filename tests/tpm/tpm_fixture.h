#pragma once

// A TPM token for the agent: swtpm (a software TPM 2.0) on a loopback port with its state in
// the test's directory, started and stopped by pid; a tpm2-pkcs11 store in the test's
// directory with one token on it and keys generated in the TPM; and attache-agent serving
// that token through Debian's libtpm2_pkcs11.so. (Issue 15 reported NUL-padded token strings
// from tpm2-pkcs11; Debian 12's 1.9.0 pads the label with spaces, as C_GetTokenInfo shows, so
// the NUL case stays with the fault token's test in tests/agent/real_lock_test.cpp. These
// tests check the label and URI the agent makes of the real token's strings.)
//
// The token is made through the library itself (pkcs11-tool: C_InitToken, C_InitPIN,
// C_GenerateKeyPair), not with tpm2_ptool: without a resource manager (the kernel's
// /dev/tpmrm0 or tpm2-abrmd) tpm2_ptool's tpm2-tools calls leave their objects loaded and
// swtpm runs out of object slots during `addtoken` (TPM_RC_OBJECT_MEMORY, 0x902).

#include <gtest/gtest.h>

#include <map>
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

    // Skips where swtpm, tpm2-pkcs11 or pkcs11-tool is missing; starts swtpm, makes the token
    // (SO PIN SoftHsm::kSoPin, user PIN SoftHsm::kUserPin) with a P-256 key "tpm-ec" and an
    // RSA-2048 key "tpm-rsa" with a certificate for signing, and starts the agent on it.
    void SetUp() override;

    // pkcs11-tool on the TPM token, directly (not through the agent; only before the agent
    // starts: swtpm serves one connection at a time).
    CommandResult pkcs11_tool(const std::vector<std::string>& args);
    // The key's public key as the agent gives it (`attache pubkey`), in a file.
    std::string public_key_file(const std::string& label);

    // The agent's status of the token (the only one it serves).
    protocol::TokenStatus token();
    // Unlocks the token, signs with the key through the agent, verifies with OpenSSL.
    void signs_and_openssl_verifies(const std::string& label);

    TempDir dir_{"attache-tpm-test"};
    TestCa ca_;
    std::unique_ptr<Background> swtpm_;  // declared before agent_: stopped after the agent
    AgentFixture agent_;
};

}  // namespace attache::testing
