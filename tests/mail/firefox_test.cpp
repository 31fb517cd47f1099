// Firefox ESR, headless, through attache-pkcs11.so: mutual TLS to a local `openssl s_server
// -Verify 1` with the card's certificate chosen without a dialog, the agent unlocked and
// locked (unlocked then by the agent's scripted pinentry). Only loopback traffic: every other
// destination goes to a proxy on 127.0.0.1 that does not exist.

#include <unistd.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "tests/forwarding/background.h"
#include "tests/forwarding/forwarding_fixture.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

// Preferences of the test profile: the certificate picked automatically, nothing that
// phones home, no first-run pages.
constexpr const char* kUserJs =
    R"(user_pref("security.default_personal_cert", "Select Automatically");
user_pref("security.osclientcerts.autoload", false);
user_pref("security.enterprise_roots.enabled", false);
user_pref("network.proxy.type", 1);
user_pref("network.proxy.http", "127.0.0.1");
user_pref("network.proxy.http_port", 9);
user_pref("network.proxy.ssl", "127.0.0.1");
user_pref("network.proxy.ssl_port", 9);
user_pref("network.proxy.no_proxies_on", "");
user_pref("network.proxy.allow_hijacking_localhost", false);
user_pref("network.trr.mode", 5);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.normandy.enabled", false);
user_pref("app.update.auto", false);
user_pref("extensions.update.enabled", false);
user_pref("security.OCSP.enabled", 0);
)";

class FirefoxTest : public ForwardingTest {
  protected:
    void SetUp() override {
#ifdef ATTACHE_ASAN_RUNTIME
        // The sanitizer build's module needs ASan's runtime preloaded into the program that
        // loads it; Firefox and Thunderbird replace malloc and are not run that way here.
        GTEST_SKIP() << "firefox-esr cannot load the AddressSanitizer build of the module";
#endif
        if (access("/usr/bin/firefox-esr", X_OK) != 0)
            GTEST_SKIP() << "firefox-esr is not installed (scripts/install-deps.sh installs it)";
    }

    // A profile whose NSS database has the module (as the SecurityDevices policy would add
    // it) and trusts the test CA.
    void make_profile() {
        profile_ = agent_.dir() / "profile";
        std::filesystem::create_directories(profile_);
        const std::string db = "sql:" + profile_.string();
        const std::string ca = write("ca.pem", ca_.cert_pem());
        for (const std::vector<std::string>& argv :
             {std::vector<std::string>{"certutil", "-N", "-d", db, "--empty-password"},
              {"certutil", "-A", "-d", db, "-n", "test-ca", "-t", "CT,C,C", "-a", "-i", ca},
              {"modutil", "-dbdir", db, "-add", "Attache", "-libfile", forwarding_module_path(),
               "-force"}}) {
            auto r = run_command(argv, {}, tool_env());
            ASSERT_EQ(r.exit_code, 0) << describe(r);
        }
        write_file(profile_ / "user.js", kUserJs);
    }

    // Starts the server, opens its page in Firefox, returns the server's log.
    std::string visit() {
        PkeyPtr server_key = TestCa::generate_ec_key();
        const std::string cert =
            write("server.pem",
                  TestCa::to_pem(ca_.issue(server_key.get(), "127.0.0.1", Usage::tls_server)));
        const std::string key = write("server.key", TestCa::private_key_pem(server_key.get()));
        const std::string ca = write("ca.pem", ca_.cert_pem());
        const int port = free_port();
        const std::string log = (agent_.dir() / "s_server.log").string();
        Background server(
            {"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", cert,
             "-key", key, "-CAfile", ca, "-Verify", "1", "-verify_return_error", "-www"},
            log);
        EXPECT_TRUE(wait_for_port(port));
        auto env = tool_env();
        env["HOME"] = agent_.dir().path().string();
        env["MOZ_HEADLESS"] = "1";
        firefox_ = run_command_within(
            240000,
            {"firefox-esr", "--headless", "--no-remote", "--profile", profile_.string(),
             "--screenshot", (agent_.dir() / "page.png").string(),
             "https://127.0.0.1:" + std::to_string(port) + "/"},
            env);
        return read_file(log);
    }

    // The card's key signed the handshake: the agent signed for Firefox, and the server,
    // having verified the card's certificate, reported no error after it (a CertificateVerify
    // that does not verify ends the handshake with an error line here).
    void handshake_completed(const std::string& log) {
        const size_t cert = log.find("CN = alice");
        ASSERT_NE(cert, std::string::npos) << log;
        EXPECT_EQ(log.find("error", cert), std::string::npos) << log;
        EXPECT_EQ(log.find("alert", cert), std::string::npos) << log;
        const std::string agent_log = agent_.log();
        EXPECT_NE(agent_log.find("op=sign"), std::string::npos) << agent_log;
        // One audit line: Firefox's signature, through the module, done.
        EXPECT_TRUE(std::regex_search(
            agent_log,
            std::regex(
                "op=sign via=pkcs11 [^\n]*exe=/usr/lib/firefox-esr/firefox-esr [^\n]*result=ok")))
            << agent_log;
    }

    std::filesystem::path profile_;
    CommandResult firefox_;
};

TEST_F(FirefoxTest, MutualTlsWithTheCardsCertificateWhileUnlocked) {
    start_agent({alice_token(false)});
    agent_.unlock();
    make_profile();
    const std::string log = visit();
    EXPECT_FALSE(firefox_.timed_out) << describe(firefox_);
    // The server verified a client certificate of the card (CN "alice ec-sign" or "alice
    // rsa-sign", both for client authentication): the card's key signed the handshake.
    EXPECT_NE(log.find("CN = alice"), std::string::npos) << log << describe(firefox_);
    EXPECT_NE(log.find("verify return:1"), std::string::npos) << log;
    EXPECT_EQ(log.find("verify error"), std::string::npos) << log;
    handshake_completed(log);
}

TEST_F(FirefoxTest, MutualTlsUnlocksThroughTheAgentsPinentryWhileLocked) {
    TestPinentry pinentry;
    pinentry.answer({std::string("pin ") + SoftHsm::kUserPin});
    start_agent({alice_token(false)}, {.pinentry = TestPinentry::program()});
    make_profile();
    const std::string log = visit();
    EXPECT_FALSE(firefox_.timed_out) << describe(firefox_);
    EXPECT_NE(log.find("CN = alice"), std::string::npos) << log << describe(firefox_);
    EXPECT_NE(log.find("verify return:1"), std::string::npos) << log;
    handshake_completed(log);
    EXPECT_EQ(pinentry.prompts(), 1);
    auto st = agent_.cli({"status", "--json"});
    EXPECT_NE(st.out.find("\"unlocked\": true"), std::string::npos) << st.out;
}

}  // namespace
}  // namespace attache::testing
