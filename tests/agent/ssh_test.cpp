// The agent's SSH socket with the real OpenSSH tools: ssh-add, ssh-keygen -Y, ssh to a test
// sshd on loopback, git commit signing.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <dlfcn.h>

#include <cstring>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "agent/ssh/framing.h"
#include "agent/ssh/messages.h"
#include "cli/exit_codes.h"
#include "pkcs11/agent_protocol/stream_io.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/agent/agent_fixture.h"
#include "tests/agent/ssh_fixture.h"

namespace attache::testing {
namespace {

std::vector<TestKey> ssh_keys() {
    return {{p11::KeyAlgorithm::ec_p256, "ec-ssh", {.sign = true}},
            {p11::KeyAlgorithm::rsa2048, "rsa-ssh", {.sign = true}},
            {p11::KeyAlgorithm::ed25519, "ed-ssh", {.sign = true}},
            {p11::KeyAlgorithm::rsa2048, "rsa-decrypt-only", {.decrypt = true}}};
}

class SshTest : public ::testing::Test {
  protected:
    void SetUp() override {
        setenv("ATTACHE_TEST_MARKER", (agent_.dir() / "marker").c_str(), 1);
        slot_ = agent_.add_token("alice", ssh_keys());
        agent_.start({.fault_token = true});
        agent_.unlock();
    }
    void TearDown() override { unsetenv("ATTACHE_TEST_MARKER"); }

    std::string ssh_sock() const { return ssh_socket(agent_); }
    std::map<std::string, std::string> env() const { return {{"SSH_AUTH_SOCK", ssh_sock()}}; }

    CommandResult ssh_add(const std::vector<std::string>& args, const std::string& input = {}) {
        std::vector<std::string> argv{"ssh-add"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv, input, env());
    }

    std::string public_key_file(const std::string& label) {
        return ssh_public_key_file(agent_, label);
    }

    AgentFixture agent_;
    CK_SLOT_ID slot_ = 0;
};

TEST_F(SshTest, SshAddListsExactlyTheCardKeysWithAttacheFingerprints) {
    auto l = ssh_add({"-l"});
    ASSERT_EQ(l.exit_code, 0) << describe(l);
    std::set<std::string> listed;
    static const std::regex fp_re("(SHA256:[A-Za-z0-9+/]+)");
    for (std::sregex_iterator it(l.out.begin(), l.out.end(), fp_re), end; it != end; ++it) {
        listed.insert((*it)[1]);
    }
    auto keys = agent_.cli({"keys", "--json"});
    std::set<std::string> expected;
    for (std::sregex_iterator it(keys.out.begin(), keys.out.end(), fp_re), end; it != end; ++it) {
        expected.insert((*it)[1]);
    }
    EXPECT_EQ(listed.size(), 3u) << l.out;  // the decrypt-only key is not an SSH identity
    EXPECT_EQ(listed, expected) << l.out << keys.out;
    EXPECT_NE(l.out.find("ec-ssh (token 'alice')"), std::string::npos) << l.out;

    auto big_l = ssh_add({"-L"});
    ASSERT_EQ(big_l.exit_code, 0);
    for (const char* type : {"ecdsa-sha2-nistp256 ", "ssh-rsa ", "ssh-ed25519 "}) {
        EXPECT_NE(big_l.out.find(type), std::string::npos) << big_l.out;
    }
}

TEST_F(SshTest, SshKeygenSignaturesVerifyForEveryKeyType) {
    const auto data = agent_.dir() / "document.txt";
    write_file(data, "the treaty text\n");
    for (const char* label : {"ec-ssh", "rsa-ssh", "ed-ssh"}) {
        const std::string pub = public_key_file(label);
        std::filesystem::remove(data.string() + ".sig");
        auto sign =
            run_command({"ssh-keygen", "-Y", "sign", "-n", "file", "-f", pub, data}, {}, env());
        ASSERT_EQ(sign.exit_code, 0) << label << describe(sign);
        const auto allowed = agent_.dir() / "allowed_signers";
        write_file(allowed, "alice@example.org " + read_file(pub));
        auto verify = run_command({"ssh-keygen", "-Y", "verify", "-f", allowed.string(), "-I",
                                   "alice@example.org", "-n", "file", "-s", data.string() + ".sig"},
                                  read_file(data));
        EXPECT_EQ(verify.exit_code, 0) << label << describe(verify);
        auto tampered =
            run_command({"ssh-keygen", "-Y", "verify", "-f", allowed.string(), "-I",
                         "alice@example.org", "-n", "file", "-s", data.string() + ".sig"},
                        "another text\n");
        EXPECT_NE(tampered.exit_code, 0) << label;
    }
}

TEST_F(SshTest, LockedTokenFailsSignaturesWithoutHanging) {
    ASSERT_EQ(agent_.cli({"lock"}).exit_code, 0);
    const auto data = agent_.dir() / "d.txt";
    write_file(data, "x");
    auto sign = run_command(
        {"ssh-keygen", "-Y", "sign", "-n", "file", "-f", public_key_file("ec-ssh"), data}, {},
        env());
    EXPECT_NE(sign.exit_code, 0);
    EXPECT_NE(agent_.log().find("attache unlock"), std::string::npos) << agent_.log();
    // Keys of a locked token are still listed, so ssh offers them.
    EXPECT_EQ(ssh_add({"-l"}).exit_code, 0);
}

TEST_F(SshTest, SshAddXLocksAndCapitalXUnlocksWithOneLogin) {
    auto lock = ssh_add({"-x"}, "anything\nanything\n");
    EXPECT_EQ(lock.exit_code, 0) << describe(lock);
    auto status = agent_.cli({"status", "--json"});
    EXPECT_NE(status.out.find("\"unlocked\": false"), std::string::npos) << status.out;

    agent_.fault().reset_counts();
    auto wrong = ssh_add({"-X"}, "000000\n");
    EXPECT_NE(wrong.exit_code, 0);
    EXPECT_EQ(agent_.fault().count(faulttoken::Fn::C_Login), 1u);
    auto unlock = ssh_add({"-X"}, std::string(SoftHsm::kUserPin) + "\n");
    EXPECT_EQ(unlock.exit_code, 0) << describe(unlock);
    EXPECT_EQ(agent_.fault().count(faulttoken::Fn::C_Login), 2u);
    status = agent_.cli({"status", "--json"});
    EXPECT_NE(status.out.find("\"unlocked\": true"), std::string::npos) << status.out;
}

TEST_F(SshTest, AddingAndRemovingKeysIsRefused) {
    const auto key = agent_.dir() / "id_ed25519";
    ASSERT_EQ(
        run_command({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.string()}).exit_code,
        0);
    EXPECT_NE(ssh_add({key.string()}).exit_code, 0);
    EXPECT_NE(ssh_add({"-D"}).exit_code, 0);
    EXPECT_NE(ssh_add({"-d", public_key_file("ec-ssh")}).exit_code, 0);
    EXPECT_EQ(ssh_add({"-l"}).exit_code, 0);
}

TEST_F(SshTest, SshAddSOfAModuleNotOnTheAllowlistNeverLoadsIt) {
    const std::string module = ATTACHE_MARKER_MODULE_PATH;
    // The library really has a load-time side effect (checked in this process).
    {
        TempDir probe;
        setenv("ATTACHE_TEST_MARKER", (probe / "m").c_str(), 1);
        void* h = dlopen(module.c_str(), RTLD_NOW);
        ASSERT_NE(h, nullptr);
        EXPECT_TRUE(std::filesystem::exists(probe / "m"));
        dlclose(h);
        setenv("ATTACHE_TEST_MARKER", (agent_.dir() / "marker").c_str(), 1);
    }
    auto add = ssh_add({"-s", module}, "\n");
    EXPECT_NE(add.exit_code, 0) << describe(add);
    EXPECT_FALSE(std::filesystem::exists(agent_.dir() / "marker"))
        << "the agent loaded a module named by a client";
    EXPECT_NE(agent_.log().find("refused"), std::string::npos) << agent_.log();
    EXPECT_NE(ssh_add({"-e", module}).exit_code, 0);
}

// Frames the agent must survive on its SSH socket.
TEST_F(SshTest, MalformedFramesFailOrCloseWhileOthersKeepWorking) {
    auto connect_raw = [&] {
        UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, ssh_sock().c_str(), sizeof addr.sun_path - 1);
        EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        timeval tv{20, 0};
        setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        return fd;
    };
    auto closed = [](int fd) {
        char c;
        return recv(fd, &c, 1, 0) == 0;
    };
    auto reply_type = [](int fd) -> int {
        auto body = stream::read_frame(fd, 20'000, 20'000);
        return body && !body->empty() ? (*body)[0] : -1;
    };
    {
        auto fd = connect_raw();
        ASSERT_TRUE(stream::write_all(fd.get(), Bytes{0x00, 0x04, 0x00, 0x01}));  // > 256 KiB
        EXPECT_TRUE(closed(fd.get()));
    }
    {
        auto fd = connect_raw();
        ASSERT_TRUE(stream::write_all(fd.get(), Bytes{0, 0, 0, 0}));
        EXPECT_TRUE(closed(fd.get()));
    }
    auto fd = connect_raw();
    const Bytes lying = ssh::frame(Bytes{13, 0xff, 0xff, 0xff, 0xf0, 1, 2, 3});
    ASSERT_TRUE(stream::write_all(fd.get(), lying));
    EXPECT_EQ(reply_type(fd.get()), ssh::SSH_AGENT_FAILURE);
    ASSERT_TRUE(stream::write_all(fd.get(), ssh::frame(Bytes{200})));  // unknown type
    EXPECT_EQ(reply_type(fd.get()), ssh::SSH_AGENT_FAILURE);
    const Bytes unknown_ext = ssh::frame(Bytes{27, 0, 0, 0, 3, 'f', 'o', 'o'});
    ASSERT_TRUE(stream::write_all(fd.get(), unknown_ext));
    EXPECT_EQ(reply_type(fd.get()), ssh::SSH_AGENT_FAILURE);
    // The same connection still lists identities; so does ssh-add.
    ASSERT_TRUE(stream::write_all(fd.get(), ssh::frame(Bytes{11})));
    EXPECT_EQ(reply_type(fd.get()), ssh::SSH_AGENT_IDENTITIES_ANSWER);
    EXPECT_EQ(ssh_add({"-l"}).exit_code, 0);
}

TEST_F(SshTest, SshEnvPrintsTheSocket) {
    auto sh = agent_.cli({"ssh-env"});
    EXPECT_EQ(sh.out, "SSH_AUTH_SOCK='" + ssh_sock() + "'; export SSH_AUTH_SOCK;\n");
    auto csh = agent_.cli({"ssh-env", "--csh"});
    EXPECT_EQ(csh.out, "setenv SSH_AUTH_SOCK '" + ssh_sock() + "';\n");
    auto status = agent_.cli({"status"});
    EXPECT_NE(status.out.find(ssh_sock()), std::string::npos);
}

TEST_F(SshTest, GitCommitSignedWithTheCardKeyVerifies) {
    const auto repo = agent_.dir() / "repo";
    std::filesystem::create_directory(repo);
    const std::string pub = public_key_file("ed-ssh");
    const auto allowed = agent_.dir() / "allowed";
    write_file(allowed, "alice@example.org " + read_file(pub));
    auto git = [&](std::vector<std::string> args) {
        std::vector<std::string> argv{"git", "-C", repo.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        auto e = env();
        e["HOME"] = agent_.dir().path().string();
        e["GIT_CONFIG_NOSYSTEM"] = "1";
        return run_command(argv, {}, e);
    };
    ASSERT_EQ(git({"init", "-q"}).exit_code, 0);
    for (auto kv : std::vector<std::pair<std::string, std::string>>{
             {"user.name", "Alice"},
             {"user.email", "alice@example.org"},
             {"gpg.format", "ssh"},
             {"user.signingkey", pub},
             {"gpg.ssh.allowedSignersFile", allowed.string()}}) {
        ASSERT_EQ(git({"config", kv.first, kv.second}).exit_code, 0);
    }
    auto commit = git({"commit", "-q", "-S", "--allow-empty", "-m", "signed on the card"});
    ASSERT_EQ(commit.exit_code, 0) << describe(commit);
    auto verify = git({"verify-commit", "HEAD"});
    EXPECT_EQ(verify.exit_code, 0) << describe(verify);
}

// A real sshd on a loopback port, trusting only the card's key.
class SshLoginTest : public SshTest {
  protected:
    void SetUp() override {
        if (!LoopbackSshd::available())
            GTEST_SKIP() << "the test sshd needs root";
        SshTest::SetUp();
        ASSERT_TRUE(sshd_.start(agent_.dir().path(), read_file(public_key_file("ec-ssh"))));
    }

    CommandResult ssh_true() { return sshd_.ssh(ssh_sock(), {}, "true"); }

    LoopbackSshd sshd_;
};

TEST_F(SshLoginTest, LogsInWhileUnlockedAndFailsWhileLockedOrAbsent) {
    auto in = ssh_true();
    EXPECT_EQ(in.exit_code, 0) << describe(in);
    ASSERT_EQ(agent_.cli({"lock"}).exit_code, 0);
    auto locked = ssh_true();
    EXPECT_EQ(locked.exit_code, 255) << describe(locked);
    agent_.fault().set_absent(slot_);
    auto absent = ssh_true();
    EXPECT_EQ(absent.exit_code, 255) << describe(absent);
}

TEST(SshModules, AllowedConfiguredModuleKeysGoAwayWithMinusEAndComeBackWithMinusS) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-ssh", {.sign = true}}});
    agent.start({.admin_config = "ssh_add_allowed_modules = [\"" + SoftHsm::module_path() + "\"]"});
    const std::map<std::string, std::string> env{
        {"SSH_AUTH_SOCK", (agent.dir() / "run/ssh.sock").string()}};
    auto listed = [&] { return run_command({"ssh-add", "-l"}, {}, env); };
    ASSERT_EQ(listed().exit_code, 0);
    auto remove = run_command({"ssh-add", "-e", SoftHsm::module_path()}, {}, env);
    EXPECT_EQ(remove.exit_code, 0) << describe(remove) << agent.log();
    EXPECT_EQ(listed().exit_code, 1) << "no identities once the module's keys are removed";
    auto add = run_command({"ssh-add", "-s", SoftHsm::module_path()}, "\n", env);
    EXPECT_EQ(add.exit_code, 0) << describe(add) << agent.log();
    EXPECT_EQ(listed().exit_code, 0);
    // The user's own file cannot allow modules.
    AgentFixture user;
    user.add_token("bob", {{p11::KeyAlgorithm::ec_p256, "k", {.sign = true}}});
    write_file(user.dir() / "u.toml", "ssh_add_allowed_modules = [\"/x.so\"]\n");
    auto r = run_command({ATTACHE_AGENT_PATH, "--foreground", "--config",
                          (user.dir() / "u.toml").string(), "--socket",
                          (user.dir() / "run/agent.sock").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("may only be set in the admin's file"), std::string::npos) << describe(r);
}

}  // namespace
}  // namespace attache::testing
