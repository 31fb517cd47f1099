// Enrolment that never half-destroys a card: every check is made before --init erases it, a card
// that holds anything is erased only once its serial is confirmed, and --dry-run changes nothing.

#include <unistd.h>

#include <filesystem>

#include "tests/enrol/enrol_fixture.h"

namespace attache::enrol_test {
namespace {

namespace fs = std::filesystem;

// A card enrolled once (keys, public keys, requests, an open record in first.db), and the options
// to enrol it again with --init into another inventory.
class EnrolledCard : public EnrolTest {
  protected:
    void SetUp() override {
        serial_ = add_token("card");
        auto r = enrol(serial_, "ec-p256", {"--inventory", path("first.db")});
        ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
        first_ = json_of(r);
        before_card_ = snapshot("card");
        before_bytes_ = card_bytes();  // after snapshot()'s login
    }

    std::vector<std::string> init(std::vector<std::string> extra = {}) const {
        std::vector<std::string> args = {"--init",
                                         "--label",
                                         "renewed",
                                         "--so-pin-source",
                                         std::string("env:") + kSoPinVar,
                                         "--new-pin-source",
                                         std::string("env:") + kNewPinVar};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }

    // The card holds what it held: same objects, same user PIN, same label.
    // The token store first: pkcs11-tool's login in snapshot() makes SoftHSM2 rewrite it.
    void expect_card_intact() {
        EXPECT_TRUE(card_bytes() == before_bytes_) << "the token store changed";
        EXPECT_EQ(snapshot("card"), before_card_);
        before_bytes_ = card_bytes();  // for the next check, after this login
        auto list =
            attache({"token", "list", "--module", softhsm_module(), "--token", uri(serial_)});
        EXPECT_TRUE(contains(list.out, "label 'card'")) << list.out;
    }

    std::string serial_;
    nlohmann::json first_;
    std::string before_card_;
    std::string before_bytes_;
};

TEST_F(EnrolledCard, InitWithAnExistingRequestFileLeavesTheCardIntact) {
    // The first enrolment's requests are still in --out: the second would have to replace them.
    ASSERT_FALSE(fs::is_empty(out_dir()));
    auto r = enrol(serial_, "ec-p256", init({"--confirm", serial_}));
    EXPECT_EQ(r.exit_code, 2) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "refusing to replace")) << r.err;
    EXPECT_TRUE(contains(r.err, "nothing was changed")) << r.err;
    EXPECT_FALSE(contains(r.err, "initialised")) << r.err;
    expect_card_intact();
    EXPECT_FALSE(fs::exists(inventory()));
}

TEST_F(EnrolledCard, InitWithAReadOnlyInventoryLeavesTheCardIntact) {
    fs::remove_all(out_dir());
    fs::create_directory(out_dir());
    // An inventory this user may read but not write. Root writes any file whatever its mode, so
    // for root the file is made immutable instead.
    const std::string db = path("first.db");
    if (geteuid() == 0) {
        auto chattr = testing::run_command({"chattr", "+i", db});
        if (chattr.exit_code != 0)
            GTEST_SKIP() << "this file system has no immutable files: "
                         << testing::describe(chattr);
    } else {
        fs::permissions(db, fs::perms::owner_read | fs::perms::group_read);
    }
    const std::string before_db = file_state(db);
    auto r = enrol(serial_, "ec-p256", init({"--confirm", serial_, "--inventory", db}));
    if (geteuid() == 0)
        testing::run_command({"chattr", "-i", db});
    EXPECT_EQ(r.exit_code, 15) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "read-only") || contains(r.err, "cannot be written")) << r.err;
    expect_card_intact();
    EXPECT_EQ(file_state(db), before_db);
    EXPECT_TRUE(fs::is_empty(out_dir()));
}

TEST_F(EnrolledCard, InitOnACardThatHoldsKeysNeedsItsSerial) {
    fs::remove_all(out_dir());
    fs::create_directory(out_dir());
    // No terminal, no --confirm: refused before any PIN is read.
    auto no_terminal = enrol(serial_, "ec-p256", init());
    EXPECT_EQ(no_terminal.exit_code, 2) << testing::describe(no_terminal);
    EXPECT_TRUE(contains(no_terminal.err, "no terminal to confirm on")) << no_terminal.err;
    EXPECT_TRUE(contains(no_terminal.err, "--confirm " + serial_)) << no_terminal.err;
    expect_card_intact();

    auto wrong = enrol(serial_, "ec-p256", init({"--confirm", "0000000000000000"}));
    EXPECT_EQ(wrong.exit_code, 13) << testing::describe(wrong);
    EXPECT_TRUE(contains(wrong.err, "does not match")) << wrong.err;
    expect_card_intact();
    EXPECT_FALSE(fs::exists(inventory()));
    EXPECT_TRUE(fs::is_empty(out_dir()));

    auto right = enrol(serial_, "ec-p256", init({"--confirm", serial_}));
    ASSERT_EQ(right.exit_code, 0) << testing::describe(right);
    auto j = json_of(right);
    EXPECT_EQ(j["initialised"], true);
    EXPECT_EQ(j["token"]["label"], "renewed");
    EXPECT_NE(j["keys"][0]["key_id"], first_["keys"][0]["key_id"]);
}

TEST_F(EnrolTest, InitOnALabelledTokenWithoutObjectsNeedsItsSerialToo) {
    // softhsm2-util initialised it with a label: it has an SO PIN, a user PIN, maybe private
    // objects Attache cannot see without the PIN.
    const std::string serial = add_token("labelled");
    const std::string before = card_bytes();
    auto r = enrol(serial, "ec-p256",
                   {"--init", "--label", "new", "--so-pin-source", std::string("env:") + kSoPinVar,
                    "--new-pin-source", std::string("env:") + kNewPinVar});
    EXPECT_EQ(r.exit_code, 2) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "--confirm " + serial)) << r.err;
    EXPECT_EQ(card_bytes(), before);
}

TEST_F(EnrolledCard, DryRunChangesNothing) {
    const std::string db = path("first.db");
    const std::string before_db = file_state(db);
    std::vector<std::string> before_requests;
    for (const auto& e : fs::directory_iterator(out_dir()))
        before_requests.push_back(e.path().string() + file_state(e.path().string()));
    fs::create_directory(path("elsewhere"));

    // --init on the enrolled card, into a new inventory and another directory: no confirmation
    // and no PIN are needed to see the plan.
    auto r = enrol(serial_, "ec-p256",
                   init({"--dry-run", "--out", path("elsewhere"), "--inventory", path("new.db"),
                         "--new-so-pin-source", std::string("env:") + kSoPinVar}),
                   {{kSoPinVar, "wrong-but-unread"}, {kNewPinVar, "1"}});
    ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
    auto j = json_of(r);
    EXPECT_EQ(j["dry_run"], true);
    EXPECT_EQ(j["changed"], false);
    EXPECT_EQ(j["erase"]["visible_objects"], 2);  // the two public keys
    EXPECT_EQ(j["erase"]["confirmation_needed"], true);
    EXPECT_EQ(j["initialise"]["label"], "renewed");
    EXPECT_EQ(j["initialise"]["new_so_pin"], true);
    ASSERT_EQ(j["generate"].size(), 2u);
    EXPECT_EQ(j["generate"][0]["role"], "authentication");
    EXPECT_EQ(j["generate"][1]["key_type"], "ec-p256");
    ASSERT_EQ(j["write"].size(), 2u);
    EXPECT_TRUE(contains(j["write"][0].get<std::string>(), path("elsewhere")));
    EXPECT_EQ(j["record"]["creates_inventory"], true);
    EXPECT_EQ(j["record"]["holder"], "Alice Martin");

    // Without --init, into the card's own inventory: the plan's checks still refuse.
    auto open = enrol(serial_, "ec-p256", {"--dry-run", "--inventory", db});
    EXPECT_EQ(open.exit_code, 15) << testing::describe(open);
    EXPECT_TRUE(contains(open.err, "open enrolment")) << open.err;

    // Text output says what would happen.
    auto text =
        attache({"enrol", "--dry-run", "--module", module_, "--token", uri(serial_), "--holder",
                 "Alice Martin", "--subject", "CN=Alice", "--out", path("elsewhere"), "--inventory",
                 path("new.db"), "--init", "--label", "renewed"});
    ASSERT_EQ(text.exit_code, 0) << testing::describe(text);
    EXPECT_TRUE(contains(text.out, "Dry run: nothing was changed")) << text.out;
    EXPECT_TRUE(contains(text.out, "erase the card")) << text.out;
    EXPECT_TRUE(contains(text.out, "generate the encryption key")) << text.out;

    // Byte for byte: the token store, the inventory, the requests; nothing created.
    expect_card_intact();
    EXPECT_EQ(file_state(db), before_db);
    std::vector<std::string> after_requests;
    for (const auto& e : fs::directory_iterator(out_dir()))
        after_requests.push_back(e.path().string() + file_state(e.path().string()));
    EXPECT_EQ(after_requests, before_requests);
    EXPECT_TRUE(fs::is_empty(path("elsewhere")));
    EXPECT_FALSE(fs::exists(path("new.db")));
    EXPECT_FALSE(fs::exists(db + "-journal"));
}

TEST_F(EnrolTest, InitCanSetAPerCardSoPin) {
    const std::string serial = add_token("card");
    constexpr const char* kCardSoPin = "SO-for-this-card-7";
    auto r = enrol(serial, "ec-p256",
                   {"--init", "--label", "MAE-0042", "--confirm", serial, "--so-pin-source",
                    std::string("env:") + kSoPinVar, "--new-pin-source",
                    std::string("env:") + kNewPinVar, "--new-so-pin-source", "env:CARD_SO_PIN"},
                   {{"CARD_SO_PIN", kCardSoPin}});
    ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
    EXPECT_EQ(json_of(r)["new_so_pin"], true);
    EXPECT_FALSE(contains(r.out + r.err, kCardSoPin));
    EXPECT_FALSE(contains(file_state(inventory()), kCardSoPin));
    auto history = attache({"inventory", "show", "1", "--inventory", inventory(), "--json"});
    EXPECT_TRUE(contains(json_of(history)["events"][0]["reason"], "with a new SO PIN"))
        << history.out;

    // The old SO PIN no longer works; the new one does.
    auto so = [&](const std::string& current) {
        return attache({"pin", "change-so", "--module", module_, "--token", uri(serial),
                        "--inventory", inventory(), "--so-pin-source", "env:CURRENT",
                        "--new-so-pin-source", "env:NEXT", "--so-pin-count-low-ok"},
                       {{"CURRENT", current}, {"NEXT", "another-SO-PIN"}});
    };
    auto old_pin = so(testing::SoftHsm::kSoPin);
    EXPECT_EQ(old_pin.exit_code, 5) << testing::describe(old_pin);
    auto new_pin = so(kCardSoPin);
    EXPECT_EQ(new_pin.exit_code, 0) << testing::describe(new_pin);
}

}  // namespace
}  // namespace attache::enrol_test
