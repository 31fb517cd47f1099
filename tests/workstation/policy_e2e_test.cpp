// The admin's policy end to end: a real agent with a policy file, the scripted pinentry for the
// confirmation dialog, and real clients — the attache CLI, this test's own process on the
// native socket, pkcs11-tool through attache-pkcs11.so, ssh-keygen on ssh.sock after
// `ssh-add -c`. Each rule is decided on the executable the agent read from /proc.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <climits>
#include <string>

#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

std::string canonical(const std::string& path) {
    char resolved[PATH_MAX];
    return realpath(path.c_str(), resolved) ? std::string(resolved) : path;
}

std::string policy_text() {
    return R"(
[[rule]]
name = "token state"
operation = ["unlock", "lock", "list"]
action = "allow"

[[rule]]
name = "the attache CLI"
exe = [")" +
           canonical(ATTACHE_CLI_PATH) +
           R"("]
action = "allow"

[[rule]]
name = "pkcs11-tool"
exe = ["/usr/bin/pkcs11-tool"]
action = "deny"

[[rule]]
name = "ssh"
channel = ["ssh"]
action = "allow"

[[rule]]
name = "everything else"
action = "confirm"
)";
}

class PolicyEndToEnd : public ::testing::Test {
  protected:
    void SetUp() override {
        agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-sign", {.sign = true}}});
        agent_.start(
            {.admin_config = "ssh_add_allowed_modules = [\"" + SoftHsm::module_path() + "\"]",
             .policy = policy_text(),
             .pinentry = TestPinentry::program()});
        agent_.unlock();
        key_ = agent_.key("ec-sign").id;
    }

    // The audit lines of signatures, once `count` of them were written.
    std::string sign_audits(size_t count) {
        std::string log;
        eventually([&] {
            log = agent_.log();
            size_t n = 0;
            for (size_t at = log.find("audit: op=sign"); at != std::string::npos;
                 at = log.find("audit: op=sign", at + 1))
                ++n;
            return n >= count;
        });
        return log;
    }

    TestPinentry pinentry_;
    AgentFixture agent_;
    std::string key_;
};

TEST_F(PolicyEndToEnd, AllowConfirmAndDenyByExecutableOnTheNativeSocket) {
    // The CLI is allowed: no dialog.
    auto cli = agent_.cli({"sign", "--key", key_}, "data");
    EXPECT_EQ(cli.exit_code, 0) << describe(cli) << agent_.log();
    EXPECT_EQ(pinentry_.prompts(), 0);

    // This test's own process is not on the list: the user confirms in the dialog, which
    // names the program the agent read from /proc.
    pinentry_.answer({"allow"});
    auto allowed = sign_with(agent_, key_);
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(allowed))
        << (error_of(allowed) ? error_of(allowed)->message : "") << agent_.log();
    EXPECT_EQ(pinentry_.prompts(), 1);
    const std::string shown = pinentry_.shown();
    EXPECT_NE(shown.find("CONFIRM"), std::string::npos) << shown;
    EXPECT_NE(shown.find("workstation_test (pid"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("GETPIN"), std::string::npos) << "a confirmation asks no PIN";

    pinentry_.answer({"deny"});
    auto denied = sign_with(agent_, key_);
    ASSERT_NE(error_of(denied), nullptr);
    EXPECT_EQ(error_of(denied)->code, protocol::ErrorCode::cancelled);
    const std::string log = sign_audits(3);
    EXPECT_NE(log.find("confirm=confirmed result=ok"), std::string::npos) << log;
    EXPECT_NE(log.find("confirm=denied result=cancelled stopped_by=confirm"), std::string::npos)
        << log;
}

// pkcs11-tool's environment: the agent's socket (and, in the ASan build, the runtime the
// instrumented module needs).
std::map<std::string, std::string> tool_env_for(const std::string& socket) {
    std::map<std::string, std::string> env{{"ATTACHE_SOCK", socket}};
#ifdef ATTACHE_ASAN_RUNTIME
    env["LD_PRELOAD"] = ATTACHE_ASAN_RUNTIME;
    env["ASAN_OPTIONS"] = "detect_leaks=0";
#endif
    return env;
}

TEST_F(PolicyEndToEnd, ADeniedProgramThroughThePkcs11ModuleIsRefusedWithoutADialog) {
    const std::string data = (agent_.dir() / "data").string();
    write_file(data, "to be signed");
    auto r = run_command(
        {"pkcs11-tool", "--module", ATTACHE_FORWARDING_MODULE_PATH, "--sign", "-m", "ECDSA",
         "--label", "ec-sign", "--input-file", data, "--output-file", data + ".sig"},
        {}, tool_env_for(agent_.socket()));
    EXPECT_NE(r.exit_code, 0) << describe(r);
    EXPECT_EQ(pinentry_.prompts(), 0);
    const std::string log = sign_audits(1);
    EXPECT_NE(log.find("via=pkcs11"), std::string::npos) << log;
    EXPECT_NE(log.find("exe=/usr/bin/pkcs11-tool"), std::string::npos) << log;
    EXPECT_NE(log.find("'pkcs11-tool'\" result=refused-by-policy stopped_by=client-policy"),
              std::string::npos)
        << log;
}

TEST_F(PolicyEndToEnd, SshAddConfirmAsksThroughPinentryAndCancelRefuses) {
    const std::map<std::string, std::string> env{
        {"SSH_AUTH_SOCK", (agent_.dir() / "run/ssh.sock").string()}};
    auto add = run_command({"ssh-add", "-c", "-s", SoftHsm::module_path()}, "\n", env);
    ASSERT_EQ(add.exit_code, 0) << describe(add) << agent_.log();
    auto pub = agent_.cli({"pubkey", "--key", key_, "--format", "ssh"});
    ASSERT_EQ(pub.exit_code, 0) << describe(pub);
    const std::string pub_file = (agent_.dir() / "key.pub").string();
    write_file(pub_file, pub.out);
    const std::string data = (agent_.dir() / "file.txt").string();
    write_file(data, "signed with confirmation\n");
    auto sign = [&] {
        return run_command({"ssh-keygen", "-Y", "sign", "-n", "file", "-f", pub_file, data}, {},
                           env);
    };
    pinentry_.answer({"deny"});
    auto refused = sign();
    EXPECT_NE(refused.exit_code, 0) << describe(refused);
    EXPECT_EQ(pinentry_.prompts(), 1);
    EXPECT_NE(pinentry_.shown().find("SSH agent socket"), std::string::npos) << pinentry_.shown();
    pinentry_.answer({"allow"});
    auto signed_ok = sign();
    EXPECT_EQ(signed_ok.exit_code, 0) << describe(signed_ok) << agent_.log();
    EXPECT_EQ(pinentry_.prompts(), 2);
    // ssh-add -c means every use: the next one asks again.
    pinentry_.answer({"deny"});
    EXPECT_NE(sign().exit_code, 0);
    EXPECT_EQ(pinentry_.prompts(), 3);
}

}  // namespace
}  // namespace attache::testing
