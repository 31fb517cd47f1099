// Bad input: each case gets a clear message and an exit code, and leaves the card and the
// inventory as they were.

#include <filesystem>
#include <fstream>

#include "tests/enrol/enrol_fixture.h"

namespace attache::enrol_test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSoPinCountLow = "0x00100000";    // CKF_SO_PIN_COUNT_LOW
constexpr const char* kUserPinFinalTry = "0x00020000";  // CKF_USER_PIN_FINAL_TRY

class BadInput : public EnrolTest {
  protected:
    void SetUp() override {
        serial_ = add_token("card");
        before_card_ = snapshot("card");
        before_inventory_ = file_state(inventory());
    }

    // The card and the inventory are as they were, and no request was written.
    void expect_unchanged() {
        EXPECT_EQ(snapshot("card"), before_card_);
        EXPECT_EQ(file_state(inventory()), before_inventory_);
        EXPECT_TRUE(fs::is_empty(out_dir())) << "requests were left in " << out_dir();
    }

    std::vector<std::string> log_lines() {
        std::ifstream in(path("calls.log"));
        std::vector<std::string> lines;
        for (std::string line; std::getline(in, line);)
            lines.push_back(line);
        return lines;
    }

    std::string serial_;
    std::string before_card_;
    std::string before_inventory_;
};

TEST_F(BadInput, WrongUserPinIsTriedOnceAndChangesNothing) {
    use_filter_module({{"ATTACHE_FILTER_LOG", path("calls.log")}});
    auto r = enrol(serial_, "ec-p256", {"--verbose"}, {{kPinVar, "999999"}});
    EXPECT_EQ(r.exit_code, 5) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "CKR_PIN_INCORRECT")) << r.err;  // the --verbose detail
    EXPECT_TRUE(contains(r.err, "never retries")) << r.err;
    EXPECT_FALSE(contains(r.err + r.out, "999999"));
    EXPECT_EQ(log_lines(), std::vector<std::string>{"C_Login USER"});
    EXPECT_EQ(json_of(r)["exit_code"], 5);
    expect_unchanged();
}

TEST_F(BadInput, WrongSoPinChangesNothingButIsRecorded) {
    use_filter_module({{"ATTACHE_FILTER_LOG", path("calls.log")}});
    auto r = enrol(serial_, "ec-p256",
                   {"--init", "--label", "renamed", "--confirm", serial_, "--so-pin-source",
                    std::string("env:") + kSoPinVar, "--new-pin-source",
                    std::string("env:") + kNewPinVar, "--verbose"},
                   {{kSoPinVar, "87654321"}});
    EXPECT_EQ(r.exit_code, 5) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "SO PIN")) << r.err;
    EXPECT_TRUE(contains(r.err, "CKR_PIN_INCORRECT")) << r.err;
    EXPECT_FALSE(contains(r.err, "87654321"));
    EXPECT_EQ(log_lines(), std::vector<std::string>{"C_InitToken"});
    EXPECT_EQ(snapshot("card"), before_card_);
    EXPECT_TRUE(fs::is_empty(out_dir()));
    // The rejected SO PIN is in the card's history (never the PIN itself).
    auto events = card_events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].rfind("so-pin-rejected|enrol --init (C_InitToken): CKR_PIN_INCORRECT", 0),
              0u)
        << events[0];
    EXPECT_FALSE(contains(file_state(inventory()), "87654321"));
    auto list = attache({"token", "list", "--module", softhsm_module(), "--token", uri(serial_)});
    EXPECT_TRUE(contains(list.out, "label 'card'")) << list.out;
}

TEST_F(BadInput, SoPinIsNotTriedWhenItsCountIsLow) {
    use_filter_module({{"ATTACHE_FILTER_LOG", path("calls.log")},
                       {"ATTACHE_FILTER_TOKEN_FLAGS", kSoPinCountLow}});
    auto r =
        enrol(serial_, "ec-p256",
              {"--init", "--label", "renamed", "--so-pin-source", std::string("env:") + kSoPinVar,
               "--new-pin-source", std::string("env:") + kNewPinVar});
    EXPECT_EQ(r.exit_code, 12) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "low SO PIN retry count")) << r.err;
    EXPECT_TRUE(log_lines().empty());
    expect_unchanged();
}

TEST_F(BadInput, UserPinOnItsFinalTryIsNotSpent) {
    use_filter_module({{"ATTACHE_FILTER_LOG", path("calls.log")},
                       {"ATTACHE_FILTER_TOKEN_FLAGS", kUserPinFinalTry}});
    auto r = enrol(serial_, "ec-p256");
    EXPECT_EQ(r.exit_code, 12) << testing::describe(r);
    EXPECT_TRUE(log_lines().empty());
    expect_unchanged();
}

TEST_F(BadInput, OpenscCardTypeOtherThanPivIsRefusedBeforeTheCardIsTouched) {
    // The enrolment path is chosen from what the module says about itself (C_GetInfo's
    // manufacturer, the token's): here SoftHSM2 behind the filter module, which reports OpenSC's
    // library manufacturer, stands for a non-PIV card OpenSC drives (none can be had here).
    use_filter_module({{"ATTACHE_FILTER_LOG", path("calls.log")},
                       {"ATTACHE_FILTER_LIBRARY_MANUFACTURER", "OpenSC Project"}});
    auto r = enrol(serial_, "ec-p256");
    EXPECT_EQ(r.exit_code, 8) << testing::describe(r);
    EXPECT_TRUE(
        contains(r.err, "is driven by OpenSC, which cannot enrol this card type truthfully"))
        << r.err;
    EXPECT_TRUE(contains(r.err, "pkcs15-init --generate-key")) << r.err;
    EXPECT_TRUE(contains(r.err, "Nothing was changed")) << r.err;
    EXPECT_TRUE(log_lines().empty());  // no C_Login, no C_InitToken
    expect_unchanged();
    // --dry-run says the same.
    auto dry = enrol(serial_, "ec-p256", {"--dry-run"});
    EXPECT_EQ(dry.exit_code, 8) << testing::describe(dry);
}

TEST_F(BadInput, KeyTypeTheCardDoesNotSupport) {
    // A card without Edwards curves, and one without ECDH.
    use_filter_module({{"ATTACHE_FILTER_HIDE", "0x1055,0x1057"}});
    auto r = enrol(serial_, "ed25519");
    EXPECT_EQ(r.exit_code, 8) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "CKM_EC_EDWARDS_KEY_PAIR_GEN")) << r.err;
    EXPECT_TRUE(contains(r.err, "Nothing was changed")) << r.err;
    expect_unchanged();

    use_filter_module({{"ATTACHE_FILTER_HIDE", "0x1050"}});
    r = enrol(serial_, "ec-p256");
    EXPECT_EQ(r.exit_code, 8) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "CKM_ECDH1_DERIVE")) << r.err;
    EXPECT_TRUE(contains(r.err, "rsa-2048")) << "should name what the card can do: " << r.err;
    expect_unchanged();
}

TEST_F(BadInput, KeyTypeAttacheDoesNotKnow) {
    auto r = enrol(serial_, "dsa-1024");
    EXPECT_EQ(r.exit_code, 2) << testing::describe(r);
    r = enrol(serial_, "ed25519", {"--encryption-key-type", "ed25519"});
    EXPECT_EQ(r.exit_code, 2) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "only sign")) << r.err;
    expect_unchanged();
}

TEST_F(BadInput, FullCardKeepsNothingHalfMade) {
    // Room for one key pair only: the first is generated, the second fails, the first goes.
    use_filter_module({{"ATTACHE_FILTER_FULL_AFTER", "1"}});
    auto r = enrol(serial_, "ec-p256");
    EXPECT_EQ(r.exit_code, 8) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "CKR_DEVICE_MEMORY")) << r.err;
    EXPECT_TRUE(contains(r.err, "the card is full")) << r.err;
    EXPECT_TRUE(contains(r.err, "deleted from the card")) << r.err;
    EXPECT_TRUE(contains(r.err, "the inventory was not changed")) << r.err;
    expect_unchanged();
}

TEST_F(BadInput, KeyThatIsNotCardBornIsDeleted) {
    // A card that reports its new key as not generated on it (CKA_LOCAL false).
    use_filter_module({{"ATTACHE_FILTER_FALSE_ATTRIBUTES", "0x163"}});
    auto r = enrol(serial_, "ec-p256");
    EXPECT_EQ(r.exit_code, 8) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "CKA_LOCAL is false")) << r.err;
    EXPECT_TRUE(contains(r.err, "deleted from the card")) << r.err;
    expect_unchanged();

    // ... or as extractable after all (CKA_NEVER_EXTRACTABLE false).
    use_filter_module({{"ATTACHE_FILTER_FALSE_ATTRIBUTES", "0x164"}});
    r = enrol(serial_, "ec-p256");
    EXPECT_EQ(r.exit_code, 8) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "CKA_NEVER_EXTRACTABLE is false")) << r.err;
    expect_unchanged();
}

TEST_F(BadInput, SubjectThatDoesNotParse) {
    for (const char* subject :
         {"Alice Martin", "CN=", "XX=Alice", "/C=France/CN=Alice", "CN=Alice+O=Ministry", ""}) {
        auto r =
            attache({"enrol", "--module", softhsm_module(), "--token", uri(serial_), "--holder",
                     "Alice", "--subject", subject, "--out", out_dir(), "--inventory", inventory(),
                     "--pin-source", std::string("env:") + kPinVar});
        EXPECT_EQ(r.exit_code, 2) << subject << "\n" << testing::describe(r);
        if (*subject != '\0') {
            EXPECT_TRUE(contains(r.err, "does not parse")) << subject << ": " << r.err;
        }
    }
    auto r = enrol(serial_, "ec-p256", {"--email", "not an address"});
    EXPECT_EQ(r.exit_code, 2) << testing::describe(r);
    expect_unchanged();
}

TEST_F(BadInput, InventoryThatIsNotAttaches) {
    testing::write_file(inventory(), "holder,serial\nalice,123\n");
    before_inventory_ = file_state(inventory());
    auto r = enrol(serial_, "ec-p256");
    EXPECT_EQ(r.exit_code, 15) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "not an Attache inventory")) << r.err;
    expect_unchanged();

    fs::remove(inventory());
    sql("CREATE TABLE accounts (name TEXT);");
    before_inventory_ = file_state(inventory());
    r = enrol(serial_, "ec-p256");
    EXPECT_EQ(r.exit_code, 15) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "not an Attache inventory")) << r.err;
    auto list = attache({"inventory", "list", "--inventory", inventory()});
    EXPECT_EQ(list.exit_code, 15) << testing::describe(list);
    expect_unchanged();

    auto missing = attache({"inventory", "list", "--inventory", path("nowhere.db")});
    EXPECT_EQ(missing.exit_code, 15) << testing::describe(missing);
    EXPECT_FALSE(fs::exists(path("nowhere.db")));
}

TEST_F(BadInput, InventoryOfANewerSchema) {
    const std::string other = add_token("other");
    auto first = enrol(other, "ec-p256");
    ASSERT_EQ(first.exit_code, 0) << testing::describe(first);
    sql("UPDATE meta SET value = '4' WHERE key = 'schema_version';");
    before_inventory_ = file_state(inventory());
    fs::remove_all(out_dir());
    fs::create_directory(out_dir());

    auto r = enrol(serial_, "ec-p256");
    EXPECT_EQ(r.exit_code, 15) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "newer")) << r.err;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"inventory", "list"},
          {"inventory", "show", "1"},
          {"inventory", "set-state", "1", "lost", "--reason", "x"},
          {"inventory", "export"}}) {
        std::vector<std::string> full = args;
        full.insert(full.end(), {"--inventory", inventory()});
        auto c = attache(full);
        EXPECT_EQ(c.exit_code, 15) << args[1] << "\n" << testing::describe(c);
    }
    expect_unchanged();
}

TEST_F(BadInput, TokenUriMatchingNoTokenOrSeveral) {
    add_token("second");
    auto none =
        attache({"enrol", "--module", softhsm_module(), "--token", "pkcs11:serial=nope", "--holder",
                 "Alice", "--subject", "CN=Alice", "--out", out_dir(), "--inventory", inventory(),
                 "--pin-source", std::string("env:") + kPinVar});
    EXPECT_EQ(none.exit_code, 7) << testing::describe(none);
    EXPECT_TRUE(contains(none.err, "no token matches")) << none.err;

    // The model alone matches every SoftHSM2 token.
    auto model_only =
        attache({"enrol", "--module", softhsm_module(), "--token", "pkcs11:model=SoftHSM%20v2",
                 "--holder", "Alice", "--subject", "CN=Alice", "--out", out_dir(), "--inventory",
                 inventory(), "--pin-source", std::string("env:") + kPinVar});
    EXPECT_EQ(model_only.exit_code, 14) << testing::describe(model_only);
    EXPECT_TRUE(contains(model_only.err, "matches")) << model_only.err;
    EXPECT_TRUE(contains(model_only.err, serial_)) << model_only.err;

    auto bad = attache({"pin", "status", "--module", softhsm_module(), "--token", "http://x"});
    EXPECT_EQ(bad.exit_code, 2) << testing::describe(bad);
    expect_unchanged();
}

TEST_F(BadInput, InitRefusesToWipeATokenWithKeysUnlessConfirmed) {
    auto first = enrol(serial_, "ec-p256");
    ASSERT_EQ(first.exit_code, 0) << testing::describe(first);
    fs::remove_all(out_dir());
    fs::create_directory(out_dir());
    before_card_ = snapshot("card");
    const std::vector<std::string> init = {"--init",
                                           "--label",
                                           "card",
                                           "--so-pin-source",
                                           std::string("env:") + kSoPinVar,
                                           "--new-pin-source",
                                           std::string("env:") + kNewPinVar,
                                           "--inventory",
                                           path("second.db")};
    auto refused = enrol(serial_, "ec-p256", init);
    EXPECT_EQ(refused.exit_code, 2) << testing::describe(refused);
    EXPECT_TRUE(contains(refused.err, "--confirm " + serial_)) << refused.err;
    EXPECT_EQ(snapshot("card"), before_card_);
    EXPECT_FALSE(fs::exists(path("second.db")));

    // Without --init, a card that holds keys is refused as well.
    auto holding = enrol(serial_, "ec-p256", {"--inventory", path("second.db")});
    EXPECT_EQ(holding.exit_code, 2) << testing::describe(holding);
    EXPECT_TRUE(contains(holding.err, "already holds")) << holding.err;

    // With the same inventory, the open enrolment is what stops it.
    auto open = enrol(serial_, "ec-p256");
    EXPECT_EQ(open.exit_code, 15) << testing::describe(open);
    EXPECT_TRUE(contains(open.err, "open enrolment")) << open.err;
    EXPECT_EQ(snapshot("card"), before_card_);

    std::vector<std::string> forced = init;
    forced.insert(forced.end(), {"--confirm", serial_});
    auto wiped = enrol(serial_, "ec-p256", forced, {{kPinVar, "unused"}});
    ASSERT_EQ(wiped.exit_code, 0) << testing::describe(wiped);
    auto j = json_of(wiped);
    EXPECT_EQ(j["initialised"], true);
    EXPECT_NE(j["keys"][0]["key_id"], json_of(first)["keys"][0]["key_id"]);
    // The old keys are gone; the new user PIN is the one set by --new-pin-source.
    auto objs = objects("card", false);
    size_t public_keys = 0;
    for (const auto& o : objs)
        public_keys += o.kind == "Public Key";
    EXPECT_EQ(public_keys, 2u);
    auto status = attache({"pin", "change", "--module", softhsm_module(), "--token", uri(serial_),
                           "--pin-source", std::string("env:") + kNewPinVar, "--new-pin-source",
                           std::string("env:") + kPinVar, "--inventory", inventory()});
    EXPECT_EQ(status.exit_code, 0) << testing::describe(status);
}

}  // namespace
}  // namespace attache::enrol_test
