#pragma once

// The forwarding module's tests: a real attache-agent on SoftHSM2 tokens with keys and
// certificates (tests/agent/agent_fixture.h), attache-pkcs11.so loaded into this process for
// the C API tests, and the environment that external tools (pkcs11-tool, p11tool, openssl,
// ssh) need to load it.

#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include <map>
#include <string>
#include <vector>

#include "tests/agent/agent_fixture.h"
#include "tests/forwarding/test_ca.h"

namespace attache::testing {

struct TokenSpec {
    std::string label;
    std::vector<TestKey> keys;
    bool certificates = true;
};

// "alice": ec-sign, rsa-sign, (ed-sign), rsa-decrypt, ec-derive, each with a certificate
// whose key usage matches.
TokenSpec alice_token(bool with_ed25519 = true);

// The module's function list, loaded once per process (never unloaded).
CK_FUNCTION_LIST* forwarding_module();
const char* forwarding_module_path();

// Throws with the CK_RV's name unless rv is CKR_OK.
void check_rv(CK_RV rv, const char* what);
std::string rv_text(CK_RV rv);

class ForwardingTest : public ::testing::Test {
  protected:
    void TearDown() override;

    void start_agent(const std::vector<TokenSpec>& tokens = {alice_token()},
                     const AgentOptions& options = {});
    // C_Initialize with ATTACHE_SOCK pointing at the test agent.
    void initialize();
    void finalize();
    CK_FUNCTION_LIST& p11() { return *forwarding_module(); }

    std::vector<CK_SLOT_ID> slots(bool present = true);
    CK_SLOT_ID only_slot();
    CK_SESSION_HANDLE open_session(CK_SLOT_ID slot);
    CK_SESSION_HANDLE open_logged_in_session();
    // The one object of that class and label the session sees (CK_INVALID_HANDLE if none).
    CK_OBJECT_HANDLE find(CK_SESSION_HANDLE session, CK_OBJECT_CLASS klass,
                          const std::string& label);
    std::vector<CK_OBJECT_HANDLE> find_all(CK_SESSION_HANDLE session,
                                           std::vector<CK_ATTRIBUTE> templ);
    Bytes attribute(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
    // One-shot sign through the module; throws on an error.
    Bytes sign(CK_SESSION_HANDLE session, CK_MECHANISM mechanism, CK_OBJECT_HANDLE key,
               const Bytes& data);

    // The key's public key (from the agent) and certificate, as files for the tools.
    std::string public_key_pem(const std::string& label);
    std::string certificate_pem(const std::string& label);
    PkeyPtr public_key(const std::string& label);
    std::string write(const std::string& name, const std::string& content);

    // Tools that load the module: ATTACHE_SOCK, and the ASan runtime in the sanitizer build.
    std::map<std::string, std::string> tool_env() const;
    CommandResult tool(const std::vector<std::string>& argv, const std::string& input = {},
                       std::map<std::string, std::string> extra_env = {});

    AgentFixture agent_;
    TestCa ca_;
    std::map<std::string, Bytes> certificates_;    // by key label
    std::map<std::string, CK_SLOT_ID> hsm_slots_;  // by token label
    bool initialized_ = false;
};

}  // namespace attache::testing
