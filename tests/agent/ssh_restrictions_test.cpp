// What the agent's SSH socket refuses to sign, with the real OpenSSH tools and with raw agent
// protocol messages: data that is neither an SSH login nor an SSHSIG blob (an X.509
// TBSCertificate), logins for another session than the verified session-bind, anything on a
// connection whose session-bind failed, SSHSIG namespaces outside git and file, use through
// `ssh -A`, and ssh-add constraints it cannot honour (it honours the lifetime of -t).

#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include "agent/ssh/framing.h"
#include "agent/ssh/keys.h"
#include "agent/ssh/messages.h"
#include "agent/ssh/sign_payload.h"
#include "pkcs11/agent_protocol/stream_io.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/agent/agent_fixture.h"
#include "tests/agent/ssh_fixture.h"
#include "tests/ssh/test_keys.h"

namespace attache::testing {
namespace {

using ssh::KeyType;

// One connection to ssh.sock speaking the agent protocol.
class RawSshClient {
  public:
    explicit RawSshClient(const std::string& socket) : fd_(raw_connect(socket)) {
        EXPECT_TRUE(fd_.valid()) << socket;
    }

    ssh::Response call(const ssh::Request& request) {
        EXPECT_TRUE(stream::write_all(fd_.get(), ssh::encode_request(request)));
        auto body = stream::read_frame(fd_.get(), 20'000, 20'000);
        if (!body) {
            ADD_FAILURE() << "no reply: " << body.error().message();
            return ssh::UnknownResponse{};
        }
        auto response = ssh::decode_response(*body);
        EXPECT_TRUE(response);
        return response ? *response : ssh::Response(ssh::UnknownResponse{});
    }

    // Returns once the agent wrote the audit records of every earlier request: it writes them
    // after each reply, before it reads the next request.
    void sync() { (void)call(ssh::RequestIdentities{}); }

    // The blob of the identity whose comment starts with `label`.
    Bytes key_blob(const std::string& label) {
        auto listed = call(ssh::RequestIdentities{});
        auto* ids = std::get_if<ssh::IdentitiesAnswer>(&listed);
        if (ids != nullptr) {
            for (const auto& id : ids->identities) {
                if (id.comment.rfind(label, 0) == 0)
                    return id.key_blob;
            }
        }
        ADD_FAILURE() << "no identity " << label;
        return {};
    }

  private:
    UniqueFd fd_;
};

template <typename T>
bool is(const ssh::Response& r) {
    return std::holds_alternative<T>(r);
}

Bytes sshsig_data(std::string_view name_space) {
    ssh::Writer w;
    w.raw(ssh::as_bytes(ssh::kSshsigMagic)).string(name_space).string("").string("sha512");
    w.string(Bytes(64, 0x31));
    return w.take();
}

Bytes userauth_data(const Bytes& session_id, const Bytes& key_blob) {
    ssh::Writer w;
    w.string(session_id).u8(ssh::SSH_MSG_USERAUTH_REQUEST).string("root");
    w.string("ssh-connection").string(ssh::kMethodPublickey).boolean(true);
    w.string("ssh-ed25519").string(key_blob);
    return w.take();
}

// A session-bind as ssh sends it, signed by a host key made here.
ssh::SessionBind session_bind(const Bytes& session_id, bool forwarding) {
    EVP_PKEY* host = ssh::testing::key_for(KeyType::kEd25519);
    return ssh::SessionBind{ssh::testing::blob_for(KeyType::kEd25519), session_id,
                            ssh::testing::ssh_signature(host, 0, session_id), forwarding};
}

// The audit records of refused signs in the agent's log.
std::vector<std::string> refused_audits(const std::string& log) {
    std::vector<std::string> out;
    static const std::regex re("audit: op=sign [^\n]*result=refused-by-policy[^\n]*");
    for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it)
        out.push_back(it->str());
    return out;
}

class SshRestrictionsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-ssh", {.sign = true}},
                                   {p11::KeyAlgorithm::ed25519, "ed-ssh", {.sign = true}}});
        // The token's module may be switched with ssh-add -s / -e (for the constraint tests).
        agent_.start(
            {.admin_config = "ssh_add_allowed_modules = [\"" + SoftHsm::module_path() + "\"]"});
        agent_.unlock();
    }

    std::string sock() const { return ssh_socket(agent_); }
    // The agent's log once it contains `text` (a tool's request is audited just after the
    // reply, so the tool may have exited before); gives up after 20 s.
    std::string log_with(const std::string& text) {
        std::string log = agent_.log();
        for (int i = 0; i < 400 && log.find(text) == std::string::npos; ++i) {
            usleep(50'000);
            log = agent_.log();
        }
        return log;
    }
    std::map<std::string, std::string> env() const { return {{"SSH_AUTH_SOCK", sock()}}; }

    AgentFixture agent_;
};

TEST_F(SshRestrictionsTest, CertificatesAndArbitraryBytesAreRefusedAndAudited) {
    RawSshClient c(sock());
    const Bytes ec = c.key_blob("ec-ssh");
    const Bytes tbs = ssh::testing::x509_tbs(ssh::testing::key_for(KeyType::kEcdsaP256));
    EXPECT_TRUE(is<ssh::FailureResponse>(c.call(ssh::SignRequest{ec, tbs, 0})));
    EXPECT_TRUE(is<ssh::FailureResponse>(c.call(ssh::SignRequest{ec, to_bytes("pay 100"), 0})));
    // The same connection and key sign an SSHSIG blob: the refusal is about the data.
    EXPECT_TRUE(is<ssh::SignResponse>(c.call(ssh::SignRequest{ec, sshsig_data("git"), 0})));
    c.sync();

    const std::string log = agent_.log();
    const auto refused = refused_audits(log);
    ASSERT_EQ(refused.size(), 2u) << log;
    for (const std::string& line : refused) {
        EXPECT_NE(line.find("key=" + agent_.key("ec-ssh").id), std::string::npos) << line;
        EXPECT_NE(line.find("reason=\"the data is neither"), std::string::npos) << line;
    }
    EXPECT_NE(log.find("the data is neither an SSH login"), std::string::npos) << log;
}

TEST_F(SshRestrictionsTest, AFailedSessionBindRefusesEverySignOnItsConnection) {
    const Bytes sid(32, 0x44);
    ssh::SessionBind forged = session_bind(sid, false);
    forged.signature.back() ^= 1;
    RawSshClient c(sock());
    const Bytes ed = c.key_blob("ed-ssh");
    EXPECT_TRUE(is<ssh::ExtensionFailure>(c.call(forged)));
    EXPECT_TRUE(is<ssh::FailureResponse>(c.call(ssh::SignRequest{ed, userauth_data(sid, ed), 0})));
    EXPECT_TRUE(is<ssh::FailureResponse>(c.call(ssh::SignRequest{ed, sshsig_data("git"), 0})));
    // A good bind afterwards does not clear the mark.
    EXPECT_TRUE(is<ssh::SuccessResponse>(c.call(session_bind(Bytes(32, 0x45), true))));
    EXPECT_TRUE(is<ssh::FailureResponse>(c.call(ssh::SignRequest{ed, sshsig_data("git"), 0})));
    c.sync();
    const std::string log = agent_.log();
    EXPECT_NE(log.find("nothing will be signed on this connection"), std::string::npos) << log;
    EXPECT_EQ(refused_audits(log).size(), 3u) << log;
    EXPECT_NE(log.find("reason=\"a session-bind on this connection failed"), std::string::npos)
        << log;

    // Another connection is not affected.
    RawSshClient fresh(sock());
    EXPECT_TRUE(is<ssh::SignResponse>(fresh.call(ssh::SignRequest{ed, sshsig_data("git"), 0})));
}

TEST_F(SshRestrictionsTest, ABoundConnectionSignsLoginsForItsOwnSessionOnly) {
    const Bytes sid(32, 0x51);
    RawSshClient c(sock());
    const Bytes ed = c.key_blob("ed-ssh");
    ASSERT_TRUE(is<ssh::SuccessResponse>(c.call(session_bind(sid, false))));
    EXPECT_TRUE(is<ssh::FailureResponse>(
        c.call(ssh::SignRequest{ed, userauth_data(Bytes(32, 0x52), ed), 0})));
    EXPECT_TRUE(is<ssh::SignResponse>(c.call(ssh::SignRequest{ed, userauth_data(sid, ed), 0})));
    // A second bind on a connection bound for authentication is refused, as OpenSSH does.
    EXPECT_TRUE(is<ssh::ExtensionFailure>(c.call(session_bind(Bytes(32, 0x53), false))));
    c.sync();
    const std::string log = agent_.log();
    EXPECT_NE(log.find("for another session than the one bound to " +
                       ssh::fingerprint_sha256(session_bind(sid, false).hostkey)),
              std::string::npos)
        << log;
}

TEST_F(SshRestrictionsTest, AForwardedConnectionListsNoKeysAndSignsNothing) {
    RawSshClient c(sock());
    const Bytes ed = c.key_blob("ed-ssh");
    ASSERT_TRUE(is<ssh::SuccessResponse>(c.call(session_bind(Bytes(32, 0x61), true))));
    auto listed = c.call(ssh::RequestIdentities{});
    ASSERT_TRUE(is<ssh::IdentitiesAnswer>(listed));
    EXPECT_TRUE(std::get<ssh::IdentitiesAnswer>(listed).identities.empty());
    EXPECT_TRUE(is<ssh::FailureResponse>(c.call(ssh::SignRequest{ed, sshsig_data("git"), 0})));
    c.sync();
    const std::string log = agent_.log();
    ASSERT_EQ(refused_audits(log).size(), 1u) << log;
    EXPECT_NE(refused_audits(log)[0].find("forwarded connection"), std::string::npos) << log;
}

TEST_F(SshRestrictionsTest, SshKeygenSignsForGitAndFileButNotOtherNamespaces) {
    const std::string pub = ssh_public_key_file(agent_, "ed-ssh");
    const auto data = agent_.dir() / "commit.txt";
    write_file(data, "tree 1234\n");
    const auto allowed = agent_.dir() / "allowed_signers";
    write_file(allowed, "alice@example.org " + read_file(pub));
    auto sign = [&](const std::string& ns) {
        std::filesystem::remove(data.string() + ".sig");
        return run_command({"ssh-keygen", "-Y", "sign", "-n", ns, "-f", pub, data}, {}, env());
    };
    for (const char* ns : {"git", "file"}) {
        auto signed_ok = sign(ns);
        ASSERT_EQ(signed_ok.exit_code, 0) << ns << describe(signed_ok) << agent_.log();
        auto verify = run_command({"ssh-keygen", "-Y", "verify", "-f", allowed.string(), "-I",
                                   "alice@example.org", "-n", ns, "-s", data.string() + ".sig"},
                                  read_file(data));
        EXPECT_EQ(verify.exit_code, 0) << ns << describe(verify);
    }
    auto evil = sign("evil");
    EXPECT_NE(evil.exit_code, 0) << describe(evil);
    EXPECT_FALSE(std::filesystem::exists(data.string() + ".sig"));
    const std::string log = log_with("result=refused-by-policy");
    const auto refused = refused_audits(log);
    ASSERT_EQ(refused.size(), 1u) << log;
    EXPECT_NE(refused[0].find("namespace \\\"evil\\\" is not allowed"), std::string::npos)
        << refused[0];
}

TEST_F(SshRestrictionsTest, SshAddConstraintsAnswerFailureNotSuccess) {
    const std::string module = SoftHsm::module_path();
    auto ssh_add = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "ssh-add");
        return run_command(args, "\n", env());
    };
    // Without constraints the module switch works (so the refusals below are the constraints').
    auto plain = ssh_add({"-s", module});
    ASSERT_EQ(plain.exit_code, 0) << describe(plain) << agent_.log();

    // -c is honoured: each signature with the module's keys is confirmed by the user. This agent
    // has no dialog, so every such signature is refused (and audited as unconfirmed) until
    // `ssh-add -e` takes the module's keys off.
    auto confirm = ssh_add({"-c", "-s", module});
    ASSERT_EQ(confirm.exit_code, 0) << describe(confirm);
    {
        RawSshClient c(sock());
        const Bytes ed = c.key_blob("ed-ssh");
        EXPECT_TRUE(is<ssh::FailureResponse>(c.call(ssh::SignRequest{ed, sshsig_data("git"), 0})));
        c.sync();
        EXPECT_NE(log_with("confirm=unavailable").find("confirm=unavailable"), std::string::npos)
            << agent_.log();
    }
    ASSERT_EQ(ssh_add({"-e", module}).exit_code, 0);
    ASSERT_EQ(ssh_add({"-s", module}).exit_code, 0);
    {
        RawSshClient c(sock());
        const Bytes ed = c.key_blob("ed-ssh");
        EXPECT_TRUE(is<ssh::SignResponse>(c.call(ssh::SignRequest{ed, sshsig_data("git"), 0})));
    }

    // -h needs the destination's host key from a known_hosts file.
    const auto known_hosts = agent_.dir() / "known_hosts";
    const auto host_key = agent_.dir() / "some_host_key";
    ASSERT_EQ(run_command({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key.string()})
                  .exit_code,
              0);
    write_file(known_hosts, "localhost " + read_file(host_key.string() + ".pub"));
    auto destination = ssh_add({"-H", known_hosts.string(), "-h", "localhost", "-s", module});
    EXPECT_NE(destination.exit_code, 0) << describe(destination);
    EXPECT_NE(agent_.log().find("ssh-add -h: destination constraints are not honoured"),
              std::string::npos)
        << agent_.log();

    // Refused constraints leave the module's keys as they were, and say why in the log.
    EXPECT_EQ(ssh_add({"-l"}).exit_code, 0);
}

TEST_F(SshRestrictionsTest, SshAddLifetimeHidesTheModulesKeysWhenItEnds) {
    const std::string module = SoftHsm::module_path();
    auto ssh_add = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "ssh-add");
        return run_command(args, "\n", env());
    };
    auto long_life = ssh_add({"-t", "600", "-s", module});
    ASSERT_EQ(long_life.exit_code, 0) << describe(long_life) << agent_.log();
    EXPECT_EQ(ssh_add({"-l"}).exit_code, 0) << "the keys are there while the lifetime lasts";

    auto short_life = ssh_add({"-t", "1", "-s", module});
    ASSERT_EQ(short_life.exit_code, 0) << describe(short_life) << agent_.log();
    // ssh-add -l exits 1 once the agent lists no identity; wait for the second to pass.
    int listed = 0;
    for (int i = 0; i < 100 && (listed = ssh_add({"-l"}).exit_code) == 0; ++i)
        usleep(200'000);
    EXPECT_EQ(listed, 1) << "the keys are still listed 20 s after a 1 s lifetime";
    // A plain ssh-add -s puts them back for good.
    ASSERT_EQ(ssh_add({"-s", module}).exit_code, 0);
    EXPECT_EQ(ssh_add({"-l"}).exit_code, 0);
    EXPECT_NE(agent_.log().find("hidden again after 1 s"), std::string::npos) << agent_.log();
}

// The socket is read with the SSH framer: several requests in one write (and a frame split
// over writes) are each answered, in order.
TEST_F(SshRestrictionsTest, PipelinedAndSplitRequestsAreAnsweredInOrder) {
    RawSshClient lister(sock());
    const Bytes ed = lister.key_blob("ed-ssh");
    UniqueFd fd = raw_connect(sock());
    ASSERT_TRUE(fd.valid());
    Bytes burst = ssh::encode_request(ssh::ExtensionQuery{});
    for (const Bytes& more : {ssh::encode_request(ssh::RequestIdentities{}),
                              ssh::encode_request(ssh::SignRequest{ed, sshsig_data("git"), 0}),
                              ssh::encode_request(ssh::SignRequest{ed, to_bytes("x"), 0})})
        burst.insert(burst.end(), more.begin(), more.end());
    // The last frame arrives in two writes.
    const size_t split = burst.size() - 3;
    ASSERT_TRUE(stream::write_all(fd.get(), burst.data(), split));
    ASSERT_TRUE(stream::write_all(fd.get(), burst.data() + split, burst.size() - split));
    std::vector<std::uint8_t> types;
    for (int i = 0; i < 4; ++i) {
        auto body = stream::read_frame(fd.get(), 20'000, 20'000);
        ASSERT_TRUE(body) << i << ": " << body.error().message();
        types.push_back((*body)[0]);
    }
    EXPECT_EQ(types, (std::vector<std::uint8_t>{
                         ssh::SSH_AGENT_EXTENSION_RESPONSE, ssh::SSH_AGENT_IDENTITIES_ANSWER,
                         ssh::SSH_AGENT_SIGN_RESPONSE, ssh::SSH_AGENT_FAILURE}));
}

// With a real sshd on loopback: ssh binds its agent connection to the session, and the login
// signature is for that session.
class SshRestrictionsLoginTest : public SshRestrictionsTest {
  protected:
    void SetUp() override {
        if (!LoopbackSshd::available())
            GTEST_SKIP() << "the test sshd needs root";
        SshRestrictionsTest::SetUp();
        ASSERT_TRUE(
            sshd_.start(agent_.dir().path(), read_file(ssh_public_key_file(agent_, "ec-ssh"))));
    }

    // "SHA256:..." of the sshd's host key, as ssh-keygen -l prints it.
    std::string host_fingerprint() {
        auto l = run_command({"ssh-keygen", "-l", "-f", sshd_.host_key_pub().string()});
        EXPECT_EQ(l.exit_code, 0) << describe(l);
        std::smatch m;
        static const std::regex fp("(SHA256:[A-Za-z0-9+/]+)");
        return std::regex_search(l.out, m, fp) ? m[1].str() : std::string("?");
    }

    LoopbackSshd sshd_;
};

TEST_F(SshRestrictionsLoginTest, ALoginThroughABoundConnectionWorks) {
    auto in = sshd_.ssh(sock(), {}, "true");
    ASSERT_EQ(in.exit_code, 0) << describe(in) << agent_.log();
    // The agent verified the session-bind: the login's audit record names the host.
    const std::string log = log_with("result=ok");
    EXPECT_NE(log.find("destination=" + host_fingerprint() + " result=ok"), std::string::npos)
        << log;
    EXPECT_TRUE(refused_audits(log).empty()) << log;
}

// ssh binds to the host certificate when the host has one: the agent verifies the certified
// key's signature (it trusts no CA; the destination names the certificate blob).
TEST_F(SshRestrictionsTest, ALoginToAHostWithACertificateWorks) {
    if (!LoopbackSshd::available())
        GTEST_SKIP() << "the test sshd needs root";
    LoopbackSshd sshd;
    ASSERT_TRUE(sshd.start(agent_.dir().path(), read_file(ssh_public_key_file(agent_, "ec-ssh")),
                           /*host_certificate=*/true));
    auto in = sshd.ssh(sock(), {"-v"}, "true");
    ASSERT_EQ(in.exit_code, 0) << describe(in) << agent_.log();
    EXPECT_NE(in.err.find("ssh-ed25519-cert-v01@openssh.com"), std::string::npos)
        << "ssh did not use the certificate: " << describe(in);
    const std::string log = log_with("result=ok");
    EXPECT_NE(log.find("destination=SHA256:"), std::string::npos) << log;
    EXPECT_EQ(log.find("session-bind:"), std::string::npos) << log;
}

TEST_F(SshRestrictionsLoginTest, TheFarSideOfSshDashAGetsNothing) {
    const std::string pub = ssh_public_key_file(agent_, "ed-ssh");
    const auto data = agent_.dir() / "far.txt";
    write_file(data, "signed over there\n");
    // On the far side: list the forwarded agent's keys, log in onward with it (back to the
    // same sshd), sign with it.
    const std::string far_side = "ssh-add -l; echo list=$?; timeout 60 " +
                                 sshd_.ssh_command_line({}, "true") +
                                 "; echo onward=$?; ssh-keygen -Y sign -n git -f " + pub + " " +
                                 data.string() + "; echo sign=$?";
    auto r = sshd_.ssh(sock(), {"-A"}, far_side);
    ASSERT_EQ(r.exit_code, 0) << describe(r) << agent_.log();
    EXPECT_NE(r.out.find("The agent has no identities."), std::string::npos) << describe(r);
    EXPECT_NE(r.out.find("list=1"), std::string::npos) << describe(r);
    EXPECT_NE(r.out.find("onward=255"), std::string::npos) << describe(r);
    EXPECT_EQ(r.out.find("sign=0"), std::string::npos) << describe(r);
    EXPECT_FALSE(std::filesystem::exists(data.string() + ".sig"));
    EXPECT_NE(agent_.log().find("over a forwarded connection (ssh -A) via " + host_fingerprint()),
              std::string::npos)
        << agent_.log();
    // The first hop itself logged in with the card key.
    EXPECT_NE(agent_.log().find("destination=" + host_fingerprint() + " result=ok"),
              std::string::npos)
        << agent_.log();
}

}  // namespace
}  // namespace attache::testing
