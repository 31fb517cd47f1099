// Managed mode on the real card stack: the broker (`attache-agent --system`, the `attache` user)
// serves the virtual PIV card through opensc-pkcs11.so to its holder, while pcscd's socket is
// root:attache 0660 (stack.py run --pcscd-group attache, as the pcscd.socket drop-in makes it):
// the holder's own pkcs11-tool on the same OpenSC module sees no card. Opened up again
// (stack.py pcscd-access open), the same command sees it, so the check can fail.

#include <openssl/sha.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "pkcs11/bytes.h"
#include "tests/managed/managed_fixture.h"
#include "tests/smartcard/test_ca.h"
#include "tests/support/command_assert.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {
namespace {

constexpr const char* kOpensc = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
constexpr const char* kSerial = "a77ac4e0000000b7";

std::string env(const char* name) {
    const char* v = getenv(name);
    return v ? v : "";
}

// `pkcs11-tool -L` on OpenSC as `user`, with nothing of the broker's.
CommandResult list_tokens_as(const std::string& user) {
    return run_command({"setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups", "env",
                        "-i", "PATH=/usr/bin:/bin", "HOME=/nonexistent", "pkcs11-tool", "--module",
                        kOpensc, "-L"});
}

class ManagedVirtualCard : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!ManagedFixture::can_run() || env("ATTACHE_SC_STACK").empty())
            GTEST_SKIP() << "runs as root inside `tests/smartcard/stack.py run --pcscd-group "
                            "attache` (ctest -L smartcard)";
        fixture_ = std::make_unique<ManagedFixture>();
        const auto access = std::filesystem::path(env("ATTACHE_SC_RUN")) / "pcscd-access";
        access_ = std::filesystem::exists(access) ? read_file(access) : "open\n";
        access_ = access_.substr(0, access_.find('\n'));
        card_ = (fixture_->root() / "keys/card").string();
        std::vector<std::string> create{env("ATTACHE_SC_CARD"), "create", card_, "--serial",
                                        kSerial};
        for (const std::string& option : card_options())
            create.push_back(option);
        must(run_command(create), "virtpiv-card create");
        must(run_command({env("ATTACHE_SC_STACK"), "insert", card_}), "stack.py insert");
        inserted_ = true;
    }
    // virtpiv-card create's options for the test's card.
    virtual std::vector<std::string> card_options() const { return {"--provisioned"}; }
    void TearDown() override {
        if (fixture_)
            fixture_->stop();
        if (inserted_)
            run_command({env("ATTACHE_SC_STACK"), "remove"});
        // The next test finds pcscd's socket as the stack was started (a test that opened it
        // must not lock it down for the next one, which then could not fail).
        if (fixture_)
            run_command({env("ATTACHE_SC_STACK"), "pcscd-access", access_});
    }
    // The public key of a slot (PEM, from the card's state) in a file, and its SPKI SHA-256.
    std::filesystem::path public_key(const std::string& slot) {
        const auto pem = fixture_->root() / "keys" / (slot + ".pem");
        auto r = run_command({env("ATTACHE_SC_CARD"), "show", card_, "--public", slot});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        write_file(pem, r.out);
        return pem;
    }
    std::string spki_sha256(const std::string& slot) {
        const auto der = fixture_->root() / "keys" / (slot + ".der");
        auto r = run_command({"openssl", "pkey", "-pubin", "-in", public_key(slot).string(),
                              "-outform", "DER", "-out", der.string()});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        const std::string bytes = read_file(der);
        unsigned char digest[SHA256_DIGEST_LENGTH];
        SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
        return hex(digest, sizeof digest);
    }
    // The card in the manifest as OpenSC's CK_TOKEN_INFO names it, held by the holder. Only
    // 9E: a locked OpenSC PIV token shows 9E's key alone, and the broker wants every key the
    // manifest lists shown before the PIN (see the report/README: 9A, 9C, 9D appear at login).
    void write_manifest() {
        manifest::ManifestCard card{kSerial, "PKCS#15 emulated", "piv_II", kHolder, "active", {}};
        card.keys.push_back({"authentication", spki_sha256("9E")});
        manifest::CardManifest m;
        m.cards.push_back(card);
        fixture_->write_manifest(m);
    }
    void start_broker_on_opensc() {
        // The broker's environment is the unit's: OpenSC's configuration (no file caching, as
        // in the stack) comes from agent.toml's module_environment, from a root-owned file.
        write_file(fixture_->etc() / "opensc.conf", "app default {\n  use_file_caching = no;\n}\n");
        fixture_->module_line = std::string("modules = [\"") + kOpensc + "\"]";
        fixture_->module_environment = {"OPENSC_CONF=" + (fixture_->etc() / "opensc.conf").string(),
                                        "PCSCLITE_CSOCK_NAME=/run/pcscd/pcscd.comm"};
        fixture_->start();
    }

    std::unique_ptr<ManagedFixture> fixture_;
    std::string card_;
    std::string access_;  // pcscd's socket as the stack was started: "open" or a group
    bool inserted_ = false;
};

TEST_F(ManagedVirtualCard, TheHolderSignsThroughTheBrokerButCannotReachTheCardItself) {
    write_manifest();
    start_broker_on_opensc();
    if (HasFatalFailure())
        return;
    const std::map<std::string, std::string> pin{{"ATTACHE_PIN", kCardPin}};
    auto status = fixture_->cli_as(kHolder, {"status", "--json"});
    ASSERT_EQ(status.exit_code, 0) << describe(status) << fixture_->log();
    EXPECT_NE(status.out.find(kSerial), std::string::npos) << status.out << fixture_->log();
    auto unlocked = fixture_->cli_as(kHolder, {"unlock", "--pin-source", "env:ATTACHE_PIN"}, pin);
    ASSERT_EQ(unlocked.exit_code, 0) << describe(unlocked) << fixture_->log();

    const auto out = fixture_->writable_dir(kHolder);
    const auto data = fixture_->root() / "run/data.txt";
    write_file(data, "signed through the broker");
    ASSERT_EQ(chmod(data.c_str(), 0644), 0);
    auto signed_ = fixture_->cli_as(kHolder, {"sign", "--key", "CARD AUTH key", "--in",
                                              data.string(), "--out", (out / "sig").string()});
    ASSERT_EQ(signed_.exit_code, 0) << describe(signed_) << fixture_->log();
    auto verified = run_command({"openssl", "dgst", "-sha256", "-verify", public_key("9E").string(),
                                 "-signature", (out / "sig").string(), data.string()});
    EXPECT_NE(verified.out.find("Verified OK"), std::string::npos) << describe(verified);

    // Meanwhile the holder's own OpenSC, and another user's, find no pcscd to talk to.
    for (const char* user : {kHolder, kOther}) {
        auto listed = list_tokens_as(user);
        EXPECT_EQ(listed.out.find(kSerial), std::string::npos) << user << ": " << describe(listed);
        EXPECT_NE((listed.out + listed.err).find("No slots"), std::string::npos)
            << user << ": " << describe(listed);
    }
    // With pcscd's socket as pcscd makes it (0777), the same command reads the card.
    must(run_command({env("ATTACHE_SC_STACK"), "pcscd-access", "open"}), "pcscd-access open");
    auto open = list_tokens_as(kHolder);
    EXPECT_NE(open.out.find(kSerial), std::string::npos) << describe(open);
}

TEST_F(ManagedVirtualCard, APcscdRestartKeepsTheCardTheBrokers) {
    write_manifest();
    start_broker_on_opensc();
    if (HasFatalFailure())
        return;
    must(run_command({env("ATTACHE_SC_STACK"), "restart-pcscd"}), "stack.py restart-pcscd");
    auto listed = list_tokens_as(kHolder);
    EXPECT_EQ(listed.out.find(kSerial), std::string::npos) << describe(listed);
    // The broker (in pcscd's group) gets the card back by itself and serves the holder. Once
    // the holder's `status` shows the card present, the first unlock works: no retries, each of
    // which could cost a PIN try on a real card (the bound ends a broken run only).
    const std::map<std::string, std::string> pin{{"ATTACHE_PIN", kCardPin}};
    CommandResult status;
    for (int i = 0; i < 300; ++i) {
        status = fixture_->cli_as(kHolder, {"status"});
        if (status.out.find(kSerial) != std::string::npos &&
            status.out.find("locked since") != std::string::npos) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_NE(status.out.find("locked since"), std::string::npos)
        << describe(status) << fixture_->log();
    auto unlocked = fixture_->cli_as(kHolder, {"unlock", "--pin-source", "env:ATTACHE_PIN"}, pin);
    EXPECT_EQ(unlocked.exit_code, 0) << describe(unlocked) << fixture_->log();
    // The new pcscd's socket is locked down again: the holder's OpenSC still sees nothing.
    auto after = list_tokens_as(kHolder);
    EXPECT_EQ(after.out.find(kSerial), std::string::npos) << describe(after);
}

// A blank card enrolled by `attache enrol` (9A, 9D and the card-auth key 9E), listed in the
// manifest with the keys and roles the enrolment reported: the broker has 9E sign a challenge
// before it sends the PIN.
class ManagedEnrolledCard : public ManagedVirtualCard {
  protected:
    std::vector<std::string> card_options() const override { return {}; }

    // Enrols the card (as root, straight through pcscd: the enrolment station's part) and
    // writes the manifest from the enrolment's report.
    void enrol_and_list() {
        const auto out = fixture_->root() / "enrol";
        std::filesystem::create_directories(out);
        auto r = run_command(
            {ATTACHE_CLI_PATH,
             "enrol",
             "--module",
             kOpensc,
             "--token",
             "pkcs11:manufacturer=piv_II",
             "--holder",
             kHolder,
             "--subject",
             "CN=Managed Holder",
             "--key-type",
             "ec-p256",
             "--out",
             out.string(),
             "--inventory",
             (out / "inventory.db").string(),
             "--pin-source",
             "env:ATTACHE_TEST_PIN",
             "--management-key-source",
             "env:ATTACHE_TEST_MK",
             "--json"},
            {}, {{"ATTACHE_TEST_PIN", kCardPin}, {"ATTACHE_TEST_MK", kDefaultManagementKey}});
        ASSERT_EQ(r.exit_code, 0) << describe(r);
        const auto report = nlohmann::json::parse(r.out);
        // 9A's and 9D's certificates from a CA: OpenSC shows a PIV key only with one, and the
        // broker wants every listed key once the card is unlocked.
        TestCa ca(out);
        manifest::ManifestCard card{kSerial, "PKCS#15 emulated", "piv_II", kHolder, "active", {}};
        for (const auto& key : report["keys"]) {
            card.keys.push_back({key["role"], key["spki_sha256"]});
            if (key["role"] == "card-auth")
                continue;
            auto imported = run_command(
                {ATTACHE_CLI_PATH, "cert", "import", "--module", kOpensc, "--token",
                 "pkcs11:manufacturer=piv_II", "--in", ca.issue(key["csr"], key["role"], false),
                 "--chain", ca.pem(), "--inventory", (out / "inventory.db").string(),
                 "--pin-source", "env:ATTACHE_TEST_PIN", "--management-key-source",
                 "env:ATTACHE_TEST_MK"},
                {}, {{"ATTACHE_TEST_PIN", kCardPin}, {"ATTACHE_TEST_MK", kDefaultManagementKey}});
            ASSERT_EQ(imported.exit_code, 0) << describe(imported);
        }
        ASSERT_EQ(card.keys.size(), 3u) << r.out;
        ASSERT_NE(card.card_auth_key(), nullptr) << r.out;
        manifest::CardManifest m;
        m.cards.push_back(card);
        fixture_->write_manifest(m);
    }
    // The card's own log from here on (one line per security-relevant command).
    void mark_card_log() { log_start_ = card_log_now().size(); }
    std::string card_log() const { return card_log_now().substr(log_start_); }
    std::string pin_state() {
        auto r = run_command({env("ATTACHE_SC_CARD"), "show", card_});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        return r.out.substr(0, r.out.find(", PUK"));
    }

  private:
    std::string card_log_now() const {
        return read_file(std::filesystem::path(env("ATTACHE_SC_RUN")) / "card-0.log");
    }
    size_t log_start_ = 0;

  protected:
    // virtpiv-card create's default 3DES management key.
    static constexpr const char* kDefaultManagementKey =
        "010203040506070801020304050607080102030405060708";
};

TEST_F(ManagedEnrolledCard, TheEnrolledCardAnswersTheChallengeBeforeThePinIsSent) {
    enrol_and_list();
    if (HasFatalFailure())
        return;
    start_broker_on_opensc();
    if (HasFatalFailure())
        return;
    mark_card_log();
    auto unlocked = fixture_->cli_as(kHolder, {"unlock", "--pin-source", "env:ATTACHE_PIN"}, kPin);
    ASSERT_EQ(unlocked.exit_code, 0) << describe(unlocked) << fixture_->log();
    // The card signed with 9E (no PIN) first, and only then saw the PIN.
    const std::string log = card_log();
    const size_t challenge = log.find("GENERAL AUTHENTICATE 9E");
    const size_t pin = log.find("VERIFY with a PIN");
    ASSERT_NE(challenge, std::string::npos) << log;
    ASSERT_NE(pin, std::string::npos) << log;
    EXPECT_LT(challenge, pin) << log;

    // The enrolled keys are served; the card-auth key is the broker's alone.
    auto keys = fixture_->cli_as(kHolder, {"keys", "--json"});
    ASSERT_EQ(keys.exit_code, 0) << describe(keys);
    EXPECT_NE(keys.out.find("PIV AUTH key"), std::string::npos) << keys.out;
    EXPECT_EQ(keys.out.find("CARD AUTH key"), std::string::npos) << keys.out;
    const auto data = fixture_->root() / "run/data.txt";
    write_file(data, "signed by the enrolled card");
    ASSERT_EQ(chmod(data.c_str(), 0644), 0);
    const auto out = fixture_->writable_dir(kHolder);
    auto signed_ = fixture_->cli_as(kHolder, {"sign", "--key", "PIV AUTH key", "--in",
                                              data.string(), "--out", (out / "sig").string()});
    EXPECT_EQ(signed_.exit_code, 0) << describe(signed_) << fixture_->log();
}

TEST_F(ManagedEnrolledCard, ACardWhose9EKeyIsNotTheEnrolledOneNeverSeesThePin) {
    enrol_and_list();
    if (HasFatalFailure())
        return;
    // The same card (serial, label, certificates: every public object the manifest checks)
    // with a new private key in 9E, as a copy of the card's public objects would be.
    must(run_command({env("ATTACHE_SC_STACK"), "remove"}), "stack.py remove");
    inserted_ = false;
    must(run_command({env("ATTACHE_SC_CARD"), "regenerate", card_, "9E"}), "regenerate 9E");
    must(run_command({env("ATTACHE_SC_STACK"), "insert", card_}), "stack.py insert");
    inserted_ = true;
    start_broker_on_opensc();
    if (HasFatalFailure())
        return;
    const std::string tries_before = pin_state();
    EXPECT_NE(tries_before.find("PIN tries left 3 of 3"), std::string::npos) << tries_before;
    mark_card_log();

    // The holder's right PIN, then a wrong one: both refused before the card sees either.
    for (const char* given : {kCardPin, "999999"}) {
        auto r = fixture_->cli_as(kHolder, {"unlock", "--pin-source", "env:ATTACHE_PIN"},
                                  {{"ATTACHE_PIN", given}});
        EXPECT_NE(r.exit_code, 0) << describe(r);
        EXPECT_NE(r.err.find("card-auth challenge failed"), std::string::npos) << describe(r);
        EXPECT_NE(r.err.find("is not the enrolled one"), std::string::npos) << describe(r);
    }
    const std::string log = card_log();
    EXPECT_NE(log.find("GENERAL AUTHENTICATE 9E"), std::string::npos) << log;
    EXPECT_EQ(log.find("VERIFY with a PIN"), std::string::npos) << log;
    EXPECT_EQ(pin_state(), tries_before);

    // The audit names the step and the reason.
    EXPECT_TRUE(fixture_->log_has("card-auth challenge failed")) << fixture_->log();
    const std::string audit = read_file(fixture_->audit_file());
    EXPECT_NE(audit.find("stopped_by=card-auth"), std::string::npos) << audit;
    EXPECT_NE(audit.find("card-auth challenge failed"), std::string::npos) << audit;
}

}  // namespace
}  // namespace attache::testing
