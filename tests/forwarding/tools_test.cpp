// Real clients load attache-pkcs11.so: OpenSC's pkcs11-tool, GnuTLS's p11tool, OpenSSL through
// libp11's engine (CSRs, S/MIME decryption, mutual TLS) and OpenSSH's PKCS11Provider. Every
// network connection is on 127.0.0.1.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/forwarding/background.h"
#include "tests/forwarding/forwarding_fixture.h"

namespace attache::testing {
namespace {

std::string hex_id(const Bytes& id) {
    return hex(id);
}

class ToolsTest : public ForwardingTest {
  protected:
    std::string module() const { return forwarding_module_path(); }

    CommandResult pkcs11_tool(std::vector<std::string> args, const std::string& input = {}) {
        std::vector<std::string> argv{"pkcs11-tool", "--module", module()};
        argv.insert(argv.end(), args.begin(), args.end());
        return tool(argv, input);
    }

    std::string key_uri(const std::string& label) { return "pkcs11:token=alice;object=" + label; }

    // openssl with libp11's engine loading the module.
    CommandResult openssl(std::vector<std::string> args,
                          std::map<std::string, std::string> env = {}) {
        std::vector<std::string> argv{"openssl"};
        argv.insert(argv.end(), args.begin(), args.end());
        env["PKCS11_MODULE_PATH"] = module();
        // Debugging aid: ATTACHE_TEST_PKCS11SPY=FILE logs every call through OpenSC's spy.
        if (const char* spy = getenv("ATTACHE_TEST_PKCS11SPY")) {
            env["PKCS11_MODULE_PATH"] = "/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so";
            env["PKCS11SPY"] = module();
            env["PKCS11SPY_OUTPUT"] = spy;
        }
        return tool(argv, {}, env);
    }
};

TEST_F(ToolsTest, Pkcs11ToolListsTheSlotAndTheObjects) {
    start_agent();
    agent_.unlock();
    auto slots = pkcs11_tool({"--list-slots"});
    ASSERT_EQ(slots.exit_code, 0) << describe(slots);
    EXPECT_NE(slots.out.find("token label        : alice"), std::string::npos) << slots.out;
    EXPECT_NE(slots.out.find("PIN pad present"), std::string::npos) << slots.out;

    // The agent is unlocked: one unlock serves every application, no login needed.
    auto unlocked = pkcs11_tool({"--list-objects"});
    ASSERT_EQ(unlocked.exit_code, 0) << describe(unlocked);
    EXPECT_NE(unlocked.out.find("Private Key Object; EC"), std::string::npos) << unlocked.out;

    ASSERT_EQ(agent_.cli({"lock"}).exit_code, 0);
    auto objects = pkcs11_tool({"--list-objects"});
    ASSERT_EQ(objects.exit_code, 0) << describe(objects);
    EXPECT_EQ(objects.out.find("Private Key Object"), std::string::npos) << objects.out;
    EXPECT_NE(objects.out.find("Certificate Object"), std::string::npos) << objects.out;
    EXPECT_NE(objects.out.find("Public Key Object; EC"), std::string::npos) << objects.out;

    agent_.unlock();
    auto logged_in = pkcs11_tool({"--login", "--list-objects"});
    ASSERT_EQ(logged_in.exit_code, 0) << describe(logged_in);
    EXPECT_NE(logged_in.out.find("Private Key Object; RSA"), std::string::npos) << logged_in.out;
    EXPECT_NE(logged_in.out.find("Private Key Object; EC"), std::string::npos) << logged_in.out;
    EXPECT_NE(logged_in.out.find("label:      ec-derive"), std::string::npos) << logged_in.out;
    EXPECT_NE(logged_in.out.find("never extract"), std::string::npos) << logged_in.out;
}

TEST_F(ToolsTest, Pkcs11ToolSignaturesVerifyWithOpenssl) {
    start_agent();
    agent_.unlock();
    const std::string data = write("data.txt", "the treaty text\n");
    struct Case {
        const char* label;
        const char* mechanism;
        std::vector<std::string> verify;  // openssl arguments after the key
    };
    for (const Case& c : std::vector<Case>{
             {"ec-sign", "ECDSA-SHA256", {"dgst", "-sha256"}},
             {"rsa-sign", "SHA256-RSA-PKCS", {"dgst", "-sha256"}},
             {"rsa-sign",
              "SHA256-RSA-PKCS-PSS",
              {"dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt",
               "rsa_pss_saltlen:32"}},
             {"ed-sign", "EDDSA", {"pkeyutl", "-rawin"}},
         }) {
        SCOPED_TRACE(std::string(c.label) + " " + c.mechanism);
        const std::string sig = (agent_.dir() / (std::string(c.mechanism) + ".sig")).string();
        auto s = pkcs11_tool({"--login", "--sign", "--mechanism", c.mechanism, "--id",
                              hex_id(agent_.key(c.label).cka_id), "--input-file", data,
                              "--output-file", sig, "--signature-format", "openssl"});
        ASSERT_EQ(s.exit_code, 0) << describe(s);
        const std::string pub = public_key_pem(c.label);
        std::vector<std::string> v{"openssl"};
        v.insert(v.end(), c.verify.begin(), c.verify.end());
        if (c.verify[0] == "pkeyutl") {
            v.insert(v.end(), {"-verify", "-pubin", "-inkey", pub, "-in", data, "-sigfile", sig});
        } else {
            v.insert(v.end(), {"-verify", pub, "-signature", sig, data});
        }
        auto verified = run_command(v);
        EXPECT_EQ(verified.exit_code, 0) << describe(verified);
        // The verdict as printed too: an exit code alone has let failures through before.
        const std::string said = verified.out + verified.err;
        EXPECT_TRUE(said.find("Verified OK") != std::string::npos ||
                    said.find("Signature Verified Successfully") != std::string::npos)
            << describe(verified);
    }
}

TEST_F(ToolsTest, Pkcs11ToolDecryptsWhatOpensslEncrypted) {
    start_agent();
    agent_.unlock();
    const std::string plain = "a message key, 32 bytes long...!";
    const std::string in = write("plain.bin", plain);
    const std::string pub = public_key_pem("rsa-decrypt");
    for (bool oaep : {true, false}) {
        SCOPED_TRACE(oaep ? "OAEP" : "PKCS#1 v1.5");
        const std::string ct = (agent_.dir() / "ct.bin").string();
        std::vector<std::string> enc{"openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey",
                                     pub,       "-in",     in,         "-out",   ct};
        if (oaep)
            enc.insert(enc.end(), {"-pkeyopt", "rsa_padding_mode:oaep"});
        ASSERT_EQ(run_command(enc).exit_code, 0);
        const std::string out = (agent_.dir() / "out.bin").string();
        std::vector<std::string> dec{
            "--login",      "--decrypt", "--id",          hex_id(agent_.key("rsa-decrypt").cka_id),
            "--input-file", ct,          "--output-file", out};
        if (oaep) {
            dec.insert(dec.end(), {"--mechanism", "RSA-PKCS-OAEP", "--hash-algorithm", "SHA-1",
                                   "--mgf", "MGF1-SHA1"});
        } else {
            dec.insert(dec.end(), {"--mechanism", "RSA-PKCS"});
        }
        auto d = pkcs11_tool(dec);
        ASSERT_EQ(d.exit_code, 0) << describe(d);
        EXPECT_EQ(read_file(out), plain);
    }
}

TEST_F(ToolsTest, Pkcs11ToolTestPassesWithProtectedAuthentication) {
    // pkcs11-tool --test decrypts RSA-OAEP with SHA-256 and a label, which SoftHSM2 2.6.1 does
    // not implement (it fails the same way without the module): no RSA decryption key here.
    TokenSpec token = alice_token(true);
    std::erase_if(token.keys, [](const TestKey& k) { return k.label == "rsa-decrypt"; });
    start_agent({token});
    agent_.unlock();
    auto t = pkcs11_tool({"--test", "--login"});
    EXPECT_EQ(t.exit_code, 0) << describe(t);
    EXPECT_EQ(t.out.find("ERR"), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("No errors"), std::string::npos) << t.out;
}

TEST_F(ToolsTest, Pkcs11ToolSaysWhenTheAgentIsNotRunning) {
    TempDir nowhere;
    auto r = run_command({"pkcs11-tool", "--module", module(), "--list-slots"}, {}, [&] {
        auto env = tool_env();
        env["ATTACHE_SOCK"] = (nowhere / "agent.sock").string();
        return env;
    }());
    EXPECT_NE(r.err.find("attache-agent is not running"), std::string::npos) << describe(r);
    EXPECT_EQ(r.out.find("token label"), std::string::npos) << r.out;
}

TEST_F(ToolsTest, P11toolListsKeysAndCertificatesWithTheCardsUris) {
    start_agent();
    agent_.unlock();
    auto l = tool({"p11tool", "--provider", module(), "--list-all"});
    ASSERT_EQ(l.exit_code, 0) << describe(l);
    // The URIs p11tool prints name the card (token, serial, manufacturer, model) and the
    // card's object label and CKA_ID, as the agent's own URIs do.
    const auto key = agent_.key("ec-sign");
    const std::string token_part = key.uri.substr(0, key.uri.find(";id="));
    std::smatch m;
    std::regex serial_re(";serial=([^;]+)");
    ASSERT_TRUE(std::regex_search(key.uri, m, serial_re)) << key.uri;
    for (const char* label : {"ec-sign", "rsa-sign", "rsa-decrypt", "ec-derive"}) {
        const std::string object = std::string("object=") + label;
        EXPECT_NE(l.out.find(object + ";type=cert"), std::string::npos) << label << l.out;
        EXPECT_NE(l.out.find(object + ";type=public"), std::string::npos) << label << l.out;
    }
    EXPECT_NE(l.out.find("serial=" + m[1].str()), std::string::npos) << l.out;
    EXPECT_NE(l.out.find("token=alice"), std::string::npos) << l.out;
    std::string id_part;
    for (uint8_t b : key.cka_id) {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", b);
        id_part += buf;
    }
    EXPECT_NE(l.out.find("id=" + id_part), std::string::npos) << l.out;

    auto logged_in = tool({"p11tool", "--provider", module(), "--login", "--list-privkeys"}, {},
                          {{"GNUTLS_PIN", ""}});
    EXPECT_EQ(logged_in.exit_code, 0) << describe(logged_in);
    EXPECT_NE(logged_in.out.find("object=ec-sign;type=private"), std::string::npos)
        << logged_in.out;
}

class OpensslTest : public ToolsTest {};

TEST_F(OpensslTest, EngineMakesCsrsThatVerify) {
    start_agent({alice_token(false)});
    agent_.unlock();
    for (const char* label : {"ec-sign", "rsa-sign"}) {
        SCOPED_TRACE(label);
        const std::string req = (agent_.dir() / (std::string(label) + ".csr")).string();
        auto made = openssl({"req", "-new", "-engine", "pkcs11", "-keyform", "engine", "-key",
                             key_uri(label), "-subj", "/CN=alice", "-out", req});
        ASSERT_EQ(made.exit_code, 0) << describe(made);
        // OpenSSL 3.0's `req -verify` exits 0 even when the signature does not verify (it
        // prints "verify failure"): the printed verdict is the check.
        auto verified = run_command({"openssl", "req", "-verify", "-noout", "-in", req});
        EXPECT_EQ(verified.exit_code, 0) << describe(verified);
        EXPECT_NE((verified.out + verified.err).find("verify OK"), std::string::npos)
            << describe(verified);
        auto pub = run_command({"openssl", "req", "-pubkey", "-noout", "-in", req});
        EXPECT_EQ(pub.out, read_file(public_key_pem(label)));
    }
}

TEST_F(OpensslTest, EngineOnATokenWithAnEd25519KeyWorksWithTheKeyHidden) {
    start_agent({alice_token(true)});
    agent_.unlock();
    const std::string req = (agent_.dir() / "ec.csr").string();
    auto made = openssl({"req", "-new", "-engine", "pkcs11", "-keyform", "engine", "-key",
                         key_uri("ec-sign"), "-subj", "/CN=alice", "-out", req},
                        {{"ATTACHE_PKCS11_HIDE", "ed25519"}});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
    auto verified = run_command({"openssl", "req", "-verify", "-noout", "-in", req});
    EXPECT_EQ(verified.exit_code, 0) << describe(verified);
    EXPECT_NE((verified.out + verified.err).find("verify OK"), std::string::npos)
        << describe(verified);

    // The same through the configuration file, for openssl only.
    const std::string config =
        write("pkcs11.toml", "[program.openssl]\nhide_key_types = [\"ed25519\"]\n");
    auto from_file = openssl({"req", "-new", "-engine", "pkcs11", "-keyform", "engine", "-key",
                              key_uri("rsa-sign"), "-subj", "/CN=alice", "-out", req},
                             {{"ATTACHE_PKCS11_CONFIG", config}});
    ASSERT_EQ(from_file.exit_code, 0) << describe(from_file);
    // pkcs11-tool still sees the Ed25519 key.
    auto listed = tool({"pkcs11-tool", "--module", module(), "--list-objects"}, {},
                       {{"ATTACHE_PKCS11_CONFIG", config}});
    EXPECT_NE(listed.out.find("ed-sign"), std::string::npos) << listed.out;
}

TEST_F(OpensslTest, CmsDecryptionForTheCardsCertificates) {
    start_agent({alice_token(false)});
    agent_.unlock();
    const std::string message = write("message.txt", "meet at the embassy at noon\r\n");
    for (auto [label, keyopt] :
         {std::pair{"rsa-decrypt", "rsa_padding_mode:oaep"}, std::pair{"ec-derive", ""}}) {
        SCOPED_TRACE(label);
        const std::string cert = certificate_pem(label);
        const std::string cms = (agent_.dir() / "message.cms").string();
        std::vector<std::string> enc{"openssl", "cms",    "-encrypt", "-binary", "-aes-256-cbc",
                                     "-in",     message,  "-outform", "DER",     "-out",
                                     cms,       "-recip", cert};
        if (*keyopt)
            enc.insert(enc.end(), {"-keyopt", keyopt});
        auto e = run_command(enc);
        ASSERT_EQ(e.exit_code, 0) << describe(e);
        const std::string out = (agent_.dir() / "decrypted.txt").string();
        auto d = openssl({"cms", "-decrypt", "-binary", "-inform", "DER", "-in", cms, "-recip",
                          cert, "-engine", "pkcs11", "-keyform", "engine", "-inkey", key_uri(label),
                          "-out", out});
        ASSERT_EQ(d.exit_code, 0) << describe(d);
        EXPECT_EQ(read_file(out), read_file(message));
    }
}

TEST_F(OpensslTest, MutualTlsWhileUnlockedAndNotWhileLocked) {
    start_agent({alice_token(false)});
    agent_.unlock();
    PkeyPtr server_key = TestCa::generate_ec_key();
    const std::string server_cert = write(
        "server.pem", TestCa::to_pem(ca_.issue(server_key.get(), "127.0.0.1", Usage::tls_server)));
    const std::string server_key_file =
        write("server.key", TestCa::private_key_pem(server_key.get()));
    const std::string ca = write("ca.pem", ca_.cert_pem());
    auto handshake = [&](const std::string& tag, const std::string& label) {
        const std::string client_cert = certificate_pem(label);
        const int port = free_port();
        const std::string log = (agent_.dir() / ("s_server-" + tag + ".log")).string();
        Background server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                           "-cert", server_cert, "-key", server_key_file, "-CAfile", ca, "-Verify",
                           "1", "-verify_return_error", "-naccept", "1"},
                          log);
        // Not by connecting: the server accepts one connection only.
        auto accepting = [&] {
            try {
                return read_file(log).find("ACCEPT") != std::string::npos;
            } catch (...) {
                return false;
            }
        };
        for (int i = 0; i < 500 && !accepting(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        auto client =
            openssl({"s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile", ca,
                     "-verify_return_error", "-cert", client_cert, "-engine", "pkcs11", "-keyform",
                     "engine", "-key", key_uri(label), "-brief"});
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return std::pair{client, read_file(log)};
    };
    // TLS 1.3: ECDSA, and RSA-PSS through libp11's CKM_RSA_PKCS_PSS.
    for (const char* label : {"ec-sign", "rsa-sign"}) {
        SCOPED_TRACE(label);
        auto [ok, ok_log] = handshake(std::string("unlocked-") + label, label);
        EXPECT_EQ(ok.exit_code, 0) << describe(ok) << ok_log;
        EXPECT_NE(ok.err.find("CONNECTION ESTABLISHED"), std::string::npos) << describe(ok);
        EXPECT_NE(ok_log.find(std::string("alice ") + label), std::string::npos) << ok_log;
    }
    ASSERT_EQ(agent_.cli({"lock"}).exit_code, 0);
    auto [locked, locked_log] = handshake("locked", "ec-sign");
    EXPECT_NE(locked.exit_code, 0) << describe(locked);
    EXPECT_EQ(locked_log.find("alice ec-sign"), std::string::npos) << locked_log;
}

TEST_F(ToolsTest, OpenSshIsOfferedOnlyKeysThatSign) {
    // OpenSSH's provider offers every public key and certificate it finds as an identity.
    start_agent({alice_token(false)});
    auto listed = tool({"ssh-keygen", "-D", module()});
    ASSERT_EQ(listed.exit_code, 0) << describe(listed);
    for (const char* label : {"ec-sign", "rsa-sign"}) {
        auto pub = agent_.cli({"pubkey", "--key", agent_.key(label).id, "--format", "ssh"});
        ASSERT_EQ(pub.exit_code, 0) << describe(pub);
        const std::string blob = pub.out.substr(0, pub.out.find(' ', pub.out.find(' ') + 1));
        EXPECT_NE(listed.out.find(blob), std::string::npos) << label << "\n" << listed.out;
    }
    for (const char* label : {"rsa-decrypt", "ec-derive"}) {
        auto pub = agent_.cli({"pubkey", "--key", agent_.key(label).id, "--format", "ssh"});
        ASSERT_EQ(pub.exit_code, 0) << describe(pub);
        const std::string blob = pub.out.substr(0, pub.out.find(' ', pub.out.find(' ') + 1));
        EXPECT_EQ(listed.out.find(blob), std::string::npos) << label << "\n" << listed.out;
    }
    // Other programs still see every key.
    auto all = tool({"pkcs11-tool", "--module", module(), "--list-objects", "--type", "pubkey"});
    EXPECT_NE(all.out.find("rsa-decrypt"), std::string::npos) << all.out;
}

class SshTest : public ToolsTest {
  protected:
    void SetUp() override {
        if (getuid() != 0)
            GTEST_SKIP() << "the test sshd needs root";
    }
};

TEST_F(SshTest, SshLogsInWithTheModuleAsPkcs11Provider) {
    start_agent({alice_token(false)});
    agent_.unlock();
    std::filesystem::create_directories("/run/sshd");
    const auto d = agent_.dir().path();
    ASSERT_EQ(run_command(
                  {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (d / "host_key").string()})
                  .exit_code,
              0);
    auto pub = agent_.cli({"pubkey", "--key", agent_.key("ec-sign").id, "--format", "ssh"});
    ASSERT_EQ(pub.exit_code, 0) << describe(pub);
    write_file(d / "authorized_keys", pub.out);
    const int port = free_port();
    write_file(d / "sshd_config",
               "Port " + std::to_string(port) + "\nListenAddress 127.0.0.1\nHostKey " +
                   (d / "host_key").string() + "\nAuthorizedKeysFile " +
                   (d / "authorized_keys").string() + "\nPidFile " + (d / "sshd.pid").string() +
                   "\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                   "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                   "PermitRootLogin prohibit-password\n");
    Background sshd({"/usr/sbin/sshd", "-D", "-e", "-f", (d / "sshd_config").string()},
                    (d / "sshd.log").string());
    ASSERT_TRUE(wait_for_port(port));
    auto ssh = [&] {
        return tool({"ssh",
                     "-F",
                     "/dev/null",
                     "-I",
                     module(),
                     "-o",
                     "IdentityAgent=none",
                     "-o",
                     "PasswordAuthentication=no",
                     "-o",
                     "KbdInteractiveAuthentication=no",
                     "-o",
                     "StrictHostKeyChecking=no",
                     "-o",
                     "UserKnownHostsFile=/dev/null",
                     "-o",
                     "ConnectTimeout=20",
                     "-p",
                     std::to_string(port),
                     "root@127.0.0.1",
                     "echo",
                     "logged-in"});
    };
    auto in = ssh();
    EXPECT_EQ(in.exit_code, 0) << describe(in) << read_file(d / "sshd.log");
    EXPECT_NE(in.out.find("logged-in"), std::string::npos);
    ASSERT_EQ(agent_.cli({"lock"}).exit_code, 0);
    auto locked = ssh();
    EXPECT_NE(locked.exit_code, 0) << describe(locked);
}

}  // namespace
}  // namespace attache::testing
