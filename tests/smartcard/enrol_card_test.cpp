// `attache enrol`, `cert import` and `verify-card` on blank virtual PIV cards through pcscd and
// OpenSC 0.23, then the agent using the enrolled card. Runs inside `stack.py run` (ctest -L
// smartcard). OpenSC cannot generate PIV keys or write PIV certificates through PKCS#11, so the
// CLI sends GENERATE ASYMMETRIC KEY PAIR and PUT DATA itself through PC/SC (cli/admin/piv/);
// what happened is checked with the card's own log and state, openssl and the agent.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"
#include "tests/agent/agent_fixture.h"
#include "tests/smartcard/card_stack.h"
#include "tests/smartcard/test_ca.h"

namespace attache::testing {
namespace {

namespace fs = std::filesystem;

// The virtual card's default management key (virtpiv-card create), for 3DES and AES-128.
constexpr const char* kDefault3des = "010203040506070801020304050607080102030405060708";
constexpr const char* kDefaultAes128 = "01020304050607080102030405060708";
constexpr const char* kPivToken = "pkcs11:manufacturer=piv_II";

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

struct Variant {
    const char* mgmt_alg;  // virtpiv-card create --mgmt-alg
    const char* mgmt_key;
    const char* key_type;  // attache enrol --key-type
    const char* piv_alg;   // the card log's algorithm byte for it
};

class CardEnrolTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!CardStack::available())
            GTEST_SKIP() << "needs the smartcard stack: ctest -L smartcard, or "
                            "tests/smartcard/stack.py run -- THIS_BINARY";
        fs::create_directories(out());
    }

    fs::path out() const { return dir_ / "out"; }
    std::string inventory() const { return (dir_ / "inventory.db").string(); }

    CommandResult attache(std::vector<std::string> args,
                          const std::map<std::string, std::string>& env = {}) {
        args.insert(args.begin(), ATTACHE_CLI_PATH);
        return run_command(args, {}, env);
    }

    // The PIN and the management key come from the environment (never the command line).
    std::map<std::string, std::string> secrets(const std::string& mgmt_key) {
        return {{"ATTACHE_TEST_PIN", kCardPin}, {"ATTACHE_TEST_MK", mgmt_key}};
    }

    CommandResult enrol(const std::string& key_type, const std::string& mgmt_key,
                        std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"enrol",
                                      "--module",
                                      kOpenscModule,
                                      "--token",
                                      kPivToken,
                                      "--holder",
                                      holder_,
                                      "--subject",
                                      "CN=Ada Lovelace,O=Test,C=FR",
                                      "--email",
                                      "ada@example.org",
                                      "--key-type",
                                      key_type,
                                      "--out",
                                      out().string(),
                                      "--inventory",
                                      inventory(),
                                      "--pin-source",
                                      "env:ATTACHE_TEST_PIN",
                                      "--management-key-source",
                                      "env:ATTACHE_TEST_MK",
                                      "--json"};
        args.insert(args.end(), extra.begin(), extra.end());
        return attache(args, secrets(mgmt_key));
    }

    CommandResult import(const std::string& cert, const std::string& mgmt_key) {
        return attache({"cert", "import", "--module", kOpenscModule, "--token", kPivToken, "--in",
                        cert, "--chain", ca_pem(), "--inventory", inventory(), "--pin-source",
                        "env:ATTACHE_TEST_PIN", "--management-key-source", "env:ATTACHE_TEST_MK"},
                       secrets(mgmt_key));
    }

    // The test CA (test_ca.h), made by make_ca().
    std::string ca_pem() const { return ca_->pem(); }
    void make_ca() { ca_.emplace(dir_.path()); }
    std::string issue(const std::string& csr, const std::string& role, bool rsa) {
        return ca_->issue(csr, role, rsa);
    }

    // The card's key slots as its state file has them ("9A", "9D", ...).
    std::vector<std::string> card_slots(const std::string& card) {
        auto state = nlohmann::json::parse(read_file(fs::path(card) / "card.json"));
        std::vector<std::string> slots;
        for (auto& [slot, _] : state["keys"].items())
            slots.push_back(slot);
        return slots;
    }

    // The enrolment's issued certificates for 9A and 9D, imported: the record becomes active.
    void import_all(const nlohmann::json& report, const std::string& mgmt_key, bool rsa) {
        make_ca();
        for (const auto& key : report["keys"]) {
            if (key["role"] == "card-auth")
                continue;
            auto imported = import(issue(key["csr"], key["role"], rsa), mgmt_key);
            EXPECT_EQ(imported.exit_code, 0) << describe(imported);
        }
    }

    TempDir dir_{"attache-card-enrol"};
    CardStack stack_;
    std::string holder_ = "Ada Lovelace";
    std::optional<TestCa> ca_;
};

class CardEnrolVariants : public CardEnrolTest, public ::testing::WithParamInterface<Variant> {};

TEST_P(CardEnrolVariants, BlankCardEnrolledImportedVerifiedAndUsedByTheAgent) {
    const Variant v = GetParam();
    const bool rsa = std::string(v.key_type).starts_with("rsa");
    const auto card = CardStack::create(dir_, "blank", {"--mgmt-alg", v.mgmt_alg});
    stack_.insert(card);
    // The reader's log goes on across tests: only what this test adds counts.
    const size_t log_start = stack_.card_log().size();
    auto card_log = [&] { return stack_.card_log().substr(log_start); };

    // 1. Enrolment: the keys generated by the card, in 9A and 9D.
    auto r = enrol(v.key_type, v.mgmt_key);
    ASSERT_EQ(r.exit_code, 0) << describe(r) << card_log();
    const auto report = nlohmann::json::parse(r.out);
    const std::string log = card_log();
    EXPECT_TRUE(contains(log, "management key authenticated (mutual)")) << log;
    EXPECT_TRUE(contains(log, std::string("generated 9A alg ") + v.piv_alg)) << log;
    EXPECT_TRUE(contains(log, std::string("generated 9D alg ") + v.piv_alg)) << log;
    // The card-authentication key: P-256 whatever the key type, its certificate written.
    EXPECT_TRUE(contains(log, "generated 9E alg 11")) << log;
    EXPECT_TRUE(contains(log, "PUT DATA 5FC101")) << log;
    EXPECT_EQ(card_slots(card), (std::vector<std::string>{"9A", "9D", "9E"}));
    EXPECT_TRUE(contains(report["key_origin"].get<std::string>(),
                         "public keys from the card's GENERATE ASYMMETRIC KEY PAIR answers"))
        << r.out;
    ASSERT_EQ(report["keys"].size(), 3u) << r.out;

    // 2. Each request: signed by the card's key (openssl says "verify OK"), carrying the public
    //    key the card holds in that slot.
    make_ca();
    std::vector<std::string> certs;
    for (const auto& key : report["keys"]) {
        if (key["role"] == "card-auth") {
            EXPECT_EQ(key["piv_slot"], "9E") << r.out;
            EXPECT_EQ(key["key_id"], "04") << r.out;
            EXPECT_TRUE(key["csr"].is_null()) << r.out;
            continue;
        }
        const std::string csr = key["csr"], slot = key["piv_slot"], role = key["role"];
        EXPECT_EQ(key["key_id"], slot == "9A" ? "01" : "03");  // OpenSC's CKA_ID for the slot
        auto verified = run_command({"openssl", "req", "-in", csr, "-verify", "-noout"});
        EXPECT_EQ(verified.exit_code, 0) << describe(verified);
        EXPECT_TRUE(contains(verified.out + verified.err, "verify OK")) << describe(verified);
        auto pub = run_command({"openssl", "req", "-in", csr, "-pubkey", "-noout"});
        EXPECT_EQ(pub.out, CardStack::public_key(card, slot)) << slot;
        certs.push_back(issue(csr, role, rsa));
    }

    // 3. The certificates written to the card (PUT DATA after the management key).
    for (const std::string& cert : certs) {
        auto imported = import(cert, v.mgmt_key);
        EXPECT_EQ(imported.exit_code, 0) << describe(imported) << card_log();
    }
    EXPECT_TRUE(contains(card_log(), "PUT DATA 5FC105")) << card_log();
    EXPECT_TRUE(contains(card_log(), "PUT DATA 5FC10B")) << card_log();

    // 4. verify-card through OpenSC: the keys OpenSC now shows are the recorded ones.
    auto verified = attache({"verify-card", "--module", kOpenscModule, "--token", kPivToken,
                             "--inventory", inventory(), "--pin-source", "env:ATTACHE_TEST_PIN"},
                            secrets(v.mgmt_key));
    EXPECT_EQ(verified.exit_code, 0) << describe(verified);
    EXPECT_TRUE(contains(verified.out, "The card matches the inventory.")) << verified.out;
    auto shown = attache({"inventory", "show", "1", "--inventory", inventory()});
    EXPECT_TRUE(contains(shown.out, "GENERATE ASYMMETRIC KEY PAIR")) << shown.out;
    EXPECT_TRUE(contains(shown.out, "active")) << shown.out;

    // The management key is nowhere: not in any output, not in the inventory.
    for (const std::string& text : {r.out + r.err, verified.out, shown.out, read_file(inventory())})
        EXPECT_FALSE(contains(text, v.mgmt_key));

    // 5. The agent signs with the enrolled authentication key; openssl verifies with the
    //    certificate's public key.
    AgentFixture agent;
    AgentOptions o;
    o.module = kOpenscModule;
    agent.start(o);
    auto u = agent.cli({"unlock", "--pin-source", "env:ATTACHE_TEST_PIN"}, {},
                       {{"ATTACHE_TEST_PIN", kCardPin}});
    ASSERT_EQ(u.exit_code, 0) << describe(u) << agent.log();
    write_file(dir_ / "data", "signed by an enrolled virtual PIV card\n");
    const std::string sig = (dir_ / "data.sig").string();
    auto s = agent.cli({"sign", "--key", agent.key("PIV AUTH key").id, "--in",
                        (dir_ / "data").string(), "--out", sig});
    ASSERT_EQ(s.exit_code, 0) << describe(s) << agent.log();
    auto pub = run_command({"openssl", "x509", "-in", certs[0], "-pubkey", "-noout"});
    write_file(dir_ / "auth-pub.pem", pub.out);
    auto check =
        run_command({"openssl", "dgst", "-sha256", "-verify", (dir_ / "auth-pub.pem").string(),
                     "-signature", sig, (dir_ / "data").string()});
    EXPECT_EQ(check.exit_code, 0) << describe(check);
    EXPECT_TRUE(contains(check.out, "Verified OK")) << describe(check);
}

INSTANTIATE_TEST_SUITE_P(Piv, CardEnrolVariants,
                         ::testing::Values(Variant{"aes128", kDefaultAes128, "ec-p256", "11"},
                                           Variant{"3des", kDefault3des, "rsa-2048", "07"}),
                         [](const auto& param_info) {
                             return std::string(param_info.param.mgmt_alg) + "_" +
                                    (std::string(param_info.param.key_type) == "ec-p256"
                                         ? "p256"
                                         : "rsa2048");
                         });

// 9E: generated, its self-signed certificate on the card (OpenSC shows the key without a
// login), recorded with the role card-auth and its certificate, and exported to the manifest.
TEST_F(CardEnrolTest, CardAuthKeyIn9EIsWrittenRecordedAndListedInTheManifest) {
    const auto card = CardStack::create(dir_, "blank", {"--mgmt-alg", "aes128"});
    stack_.insert(card);
    holder_ = "ada";  // the manifest gives a card to a login name
    auto r = enrol("ec-p256", kDefaultAes128);
    ASSERT_EQ(r.exit_code, 0) << describe(r) << stack_.card_log();
    const auto report = nlohmann::json::parse(r.out);
    nlohmann::json card_auth;
    for (const auto& key : report["keys"]) {
        if (key["role"] == "card-auth")
            card_auth = key;
    }
    ASSERT_TRUE(card_auth.is_object()) << r.out;
    EXPECT_EQ(card_auth["label"], "ada card authentication");

    // The certificate in 5FC101: self-signed by the card's 9E key, digitalSignature only, and
    // OpenSC reads it without any PIN.
    const std::string cert = (dir_ / "9e.der").string();
    auto read = run_command({"pkcs11-tool", "--module", kOpenscModule, "--read-object", "--type",
                             "cert", "--id", "04", "--output-file", cert});
    ASSERT_EQ(read.exit_code, 0) << describe(read);
    auto pub = run_command({"openssl", "x509", "-inform", "DER", "-in", cert, "-pubkey", "-noout"});
    EXPECT_EQ(pub.out, CardStack::public_key(card, "9E"));
    auto self = run_command(
        {"openssl", "x509", "-inform", "DER", "-in", cert, "-out", (dir_ / "9e.pem").string()});
    ASSERT_EQ(self.exit_code, 0) << describe(self);
    auto verified = run_command({"openssl", "verify", "-CAfile", (dir_ / "9e.pem").string(),
                                 "-check_ss_sig", (dir_ / "9e.pem").string()});
    EXPECT_TRUE(contains(verified.out, ": OK")) << describe(verified);
    auto text = run_command({"openssl", "x509", "-in", (dir_ / "9e.pem").string(), "-noout", "-ext",
                             "keyUsage,basicConstraints"});
    EXPECT_TRUE(contains(text.out, "Digital Signature")) << text.out;
    EXPECT_TRUE(contains(text.out, "CA:FALSE")) << text.out;
    auto objects = run_command(
        {"pkcs11-tool", "--module", kOpenscModule, "--list-objects", "--type", "privkey"});
    EXPECT_TRUE(contains(objects.out, "ID:         04")) << describe(objects);

    // The inventory: the card-auth key with its certificate; active once 9A and 9D have theirs.
    auto shown = attache({"inventory", "show", "1", "--inventory", inventory(), "--json"});
    ASSERT_EQ(shown.exit_code, 0) << describe(shown);
    const auto record = nlohmann::json::parse(shown.out);
    bool recorded = false;
    for (const auto& key : record["keys"]) {
        if (key["role"] != "card-auth")
            continue;
        recorded = true;
        EXPECT_EQ(key["spki_sha256"], card_auth["spki_sha256"]) << shown.out;
        EXPECT_FALSE(key["certificate"].is_null()) << shown.out;
    }
    EXPECT_TRUE(recorded) << shown.out;
    import_all(report, kDefaultAes128, false);
    auto active = attache({"inventory", "show", "1", "--inventory", inventory()});
    EXPECT_TRUE(contains(active.out, "active")) << active.out;
    auto checked = attache({"verify-card", "--module", kOpenscModule, "--token", kPivToken,
                            "--inventory", inventory(), "--pin-source", "env:ATTACHE_TEST_PIN"},
                           secrets(kDefaultAes128));
    EXPECT_EQ(checked.exit_code, 0) << describe(checked);
    // A CA's certificate for the card-auth key is refused: enrolment's stays.
    const std::string resigned = (dir_ / "9e-by-ca.pem").string();
    auto by_ca =
        run_command({"openssl", "x509", "-in", (dir_ / "9e.pem").string(), "-CA", ca_pem(),
                     "-CAkey", ca_->key(), "-CAcreateserial", "-days", "10", "-out", resigned});
    ASSERT_EQ(by_ca.exit_code, 0) << describe(by_ca);
    auto again = import(resigned, kDefaultAes128);
    EXPECT_NE(again.exit_code, 0) << describe(again);
    EXPECT_TRUE(contains(again.err, "card-authentication key")) << again.err;

    // The manifest lists the key with its role.
    auto made = run_command(
        {"openssl", "genpkey", "-algorithm", "ed25519", "-out", (dir_ / "admin.pem").string()});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
    const std::string manifest = (dir_ / "cards.manifest").string();
    auto exported =
        attache({"inventory", "export", "--manifest", "--signing-key",
                 (dir_ / "admin.pem").string(), "--out", manifest, "--inventory", inventory()});
    ASSERT_EQ(exported.exit_code, 0) << describe(exported);
    const std::string listed = read_file(manifest);
    EXPECT_TRUE(contains(listed, R"({"role":"card-auth","spki_sha256":")" +
                                     card_auth["spki_sha256"].get<std::string>() + "\"}"))
        << listed;
    EXPECT_TRUE(contains(listed, R"({"role":"authentication",)")) << listed;
}

TEST_F(CardEnrolTest, WrongManagementKeyLeavesTheKeySlotsUntouched) {
    const auto card = CardStack::create(dir_, "blank", {"--mgmt-alg", "aes128"});
    stack_.insert(card);
    const size_t log_start = stack_.card_log().size();
    // --dry-run: the plan names the slots and sends the card nothing (no PIN presented).
    auto dry = enrol("ec-p256", kDefaultAes128, {"--dry-run"});
    EXPECT_EQ(dry.exit_code, 0) << describe(dry);
    const auto plan = nlohmann::json::parse(dry.out);
    EXPECT_EQ(plan["generate"][0]["piv_slot"], "9A") << dry.out;
    EXPECT_EQ(plan["generate"][1]["piv_slot"], "9D") << dry.out;
    EXPECT_EQ(plan["generate"][2]["piv_slot"], "9E") << dry.out;
    EXPECT_EQ(plan["generate"][2]["role"], "card-auth") << dry.out;
    EXPECT_FALSE(contains(stack_.card_log().substr(log_start), "VERIFY")) << stack_.card_log();
    const std::string wrong = "0f0e0d0c0b0a09080706050403020100";
    auto r = enrol("ec-p256", wrong);
    EXPECT_EQ(r.exit_code, cli::kWrongPin) << describe(r);
    EXPECT_TRUE(contains(r.err, "the card refused the management key")) << r.err;
    EXPECT_TRUE(contains(r.err, "nothing was written")) << r.err;
    EXPECT_FALSE(contains(r.err + r.out, wrong));
    const std::string log = stack_.card_log().substr(log_start);
    EXPECT_TRUE(contains(log, "management key: wrong witness")) << log;
    EXPECT_FALSE(contains(log, "generated")) << log;
    EXPECT_TRUE(card_slots(card).empty());
    EXPECT_TRUE(fs::is_empty(out()));
    EXPECT_FALSE(fs::exists(inventory()));

    // A key whose length does not fit the algorithm given: refused before the card sees a
    // command that could change anything (no PIN presented either).
    const int pins = stack_.pins_presented();
    auto mismatch = enrol("ec-p256", kDefaultAes128, {"--management-key-alg", "3des"});
    EXPECT_EQ(mismatch.exit_code, cli::kUsage) << describe(mismatch);
    EXPECT_TRUE(contains(mismatch.err, "a 3des management key has 24 bytes")) << mismatch.err;
    EXPECT_EQ(stack_.pins_presented(), pins);
    EXPECT_TRUE(card_slots(card).empty());
}

TEST_F(CardEnrolTest, CardThatIsNotBlankOrNoManagementKeyIsRefusedBeforeAnyWrite) {
    const auto card = CardStack::create(dir_, "used", {"--provisioned"});
    stack_.insert(card);
    const std::string before = read_file(fs::path(card) / "card.json");
    // The reader's log goes on across tests: only what this test adds counts.
    const size_t log_start = stack_.card_log().size();
    const int pins = stack_.pins_presented();

    auto no_key = attache({"enrol", "--module", kOpenscModule, "--token", kPivToken, "--holder",
                           "Ada", "--subject", "CN=Ada", "--out", out().string(), "--inventory",
                           inventory(), "--pin-source", "env:ATTACHE_TEST_PIN"},
                          secrets(kDefault3des));
    EXPECT_EQ(no_key.exit_code, cli::kUsage) << describe(no_key);
    EXPECT_TRUE(contains(no_key.err, "--management-key-source")) << no_key.err;

    auto used = enrol("ec-p256", kDefault3des);
    EXPECT_EQ(used.exit_code, cli::kUsage) << describe(used);
    EXPECT_TRUE(contains(used.err, "already holds a certificate in slot(s) 9A, 9C, 9D, 9E"))
        << used.err;
    EXPECT_EQ(stack_.pins_presented(), pins);
    EXPECT_FALSE(contains(stack_.card_log().substr(log_start), "management key"))
        << stack_.card_log();
    EXPECT_EQ(read_file(fs::path(card) / "card.json"), before);
    EXPECT_TRUE(fs::is_empty(out()));

    // --init does not apply to PIV cards (no C_InitToken): refused, the card untouched.
    auto init = enrol("ec-p256", kDefault3des, {"--init", "--label", "x"});
    EXPECT_EQ(init.exit_code, cli::kUsage) << describe(init);
    EXPECT_TRUE(contains(init.err, "no C_InitToken")) << init.err;
    EXPECT_EQ(read_file(fs::path(card) / "card.json"), before);
}

}  // namespace
}  // namespace attache::testing
