// Firefox ESR, headless, through attache-pkcs11.so added by an enterprise policy
// (policies.json: SecurityDevices, and Preferences locking security.default_personal_cert to
// "Select Automatically"): mutual TLS to a local `openssl s_server -Verify 1` with the card's
// certificate chosen without a dialog, the agent unlocked and locked (unlocked then by the
// agent's scripted pinentry). Only loopback traffic: every other destination goes to a proxy
// on 127.0.0.1 that does not exist.

#include <unistd.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "tests/forwarding/background.h"
#include "tests/mail/mozilla_fixture.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

// Preferences of the test profile: nothing that phones home, no first-run pages. (The
// certificate choice comes from the policy, as on an administered machine.)
constexpr const char* kUserJs = R"(user_pref("security.osclientcerts.autoload", false);
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

// The policy's certificate choice: an administrator's way to let Firefox answer a server's
// certificate request with the card's certificate, without asking.
constexpr const char* kCertificateChoicePolicy =
    R"(, "Preferences": {"security.default_personal_cert": {"Value": "Select Automatically", "Status": "locked"}})";

class FirefoxTest : public MozillaClientTest {
  protected:
    FirefoxTest() : MozillaClientTest(firefox_app()) {}

    // The profile (the test CA trusted, no module) and the policy that adds the module.
    void make_profile() {
        MozillaClientTest::make_profile(kUserJs);
        write_policy(kCertificateChoicePolicy);
        expect_module_not_in_profile();
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
        firefox_ = run_command_within(
            240000,
            under_policy({"firefox-esr", "--headless", "--no-remote", "--profile",
                          profile_.string(), "--screenshot", (agent_.dir() / "page.png").string(),
                          "https://127.0.0.1:" + std::to_string(port) + "/"}),
            app_env());
        // The policy added the module to the profile (it was not there before the start).
        const std::string modules = profile_modules();
        EXPECT_NE(modules.find(forwarding_module_path()), std::string::npos) << modules;
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
