// The card history (PIN changes and resets, SO PIN changes, rejected SO PINs) and what
// verify-card says about a card whose record says it must not be used.

#include <unistd.h>

#include <filesystem>

#include "tests/enrol/enrol_fixture.h"

namespace attache::enrol_test {
namespace {

namespace fs = std::filesystem;

class CardHistory : public EnrolTest {
  protected:
    void SetUp() override {
        serial_ = add_token("card");
        auto r = enrol(serial_, "ec-p256");
        ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
    }

    CommandResult pin(const std::string& action, std::vector<std::string> args,
                      const std::map<std::string, std::string>& env = {}) {
        std::vector<std::string> argv{"pin",     action,       "--module",    module_,
                                      "--token", uri(serial_), "--inventory", inventory()};
        argv.insert(argv.end(), args.begin(), args.end());
        return attache(argv, env);
    }

    static std::string env(const char* var) { return std::string("env:") + var; }

    std::string serial_;
};

TEST_F(CardHistory, ChangeSoThenTheOldSoPinFails) {
    auto changed =
        pin("change-so",
            {"--so-pin-source", env(kSoPinVar), "--new-so-pin-source", "env:NEXT_SO", "--json"},
            {{"NEXT_SO", "87654321"}});
    ASSERT_EQ(changed.exit_code, 0) << testing::describe(changed);
    EXPECT_EQ(json_of(changed)["changed"], "so-pin");
    EXPECT_FALSE(contains(changed.out + changed.err, "87654321"));

    // The old SO PIN is rejected now (and that is recorded); the new one resets the user PIN.
    auto old_so = pin("unblock", {"--so-pin-source", env(kSoPinVar), "--new-pin-source",
                                  env(kNewPinVar), "--reason", "holder forgot the PIN"});
    EXPECT_EQ(old_so.exit_code, 5) << testing::describe(old_so);
    EXPECT_TRUE(contains(old_so.err, "SO PIN")) << old_so.err;
    EXPECT_TRUE(contains(old_so.err, "Recorded in")) << old_so.err;
    auto new_so = pin("unblock",
                      {"--so-pin-source", "env:NEXT_SO", "--new-pin-source", env(kNewPinVar),
                       "--reason", "holder forgot the PIN", "--so-pin-count-low-ok"},
                      {{"NEXT_SO", "87654321"}});
    EXPECT_EQ(new_so.exit_code, 0) << testing::describe(new_so);
}

TEST_F(CardHistory, ChangeUnblockAndRejectedSoPinAreRecorded) {
    auto changed =
        pin("change", {"--pin-source", env(kPinVar), "--new-pin-source", env(kNewPinVar)});
    ASSERT_EQ(changed.exit_code, 0) << testing::describe(changed);
    auto rejected = pin("unblock",
                        {"--so-pin-source", env(kSoPinVar), "--new-pin-source", env(kPinVar),
                         "--reason", "holder forgot the PIN"},
                        {{kSoPinVar, "00000000"}});
    ASSERT_EQ(rejected.exit_code, 5) << testing::describe(rejected);
    auto reset =
        pin("unblock", {"--so-pin-source", env(kSoPinVar), "--new-pin-source", env(kPinVar),
                        "--reason", "ticket 4711: PIN blocked", "--so-pin-count-low-ok"});
    ASSERT_EQ(reset.exit_code, 0) << testing::describe(reset);
    auto so = pin("change-so",
                  {"--so-pin-source", env(kSoPinVar), "--new-so-pin-source", "env:NEXT_SO",
                   "--reason", "yearly rotation"},
                  {{"NEXT_SO", "11223344"}});
    ASSERT_EQ(so.exit_code, 0) << testing::describe(so);

    const std::string uid = std::to_string(getuid());
    auto rows = card_events();
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0], "user-pin-changed|changed with `attache pin change`|" + uid + "|1");
    EXPECT_EQ(rows[1].rfind("so-pin-rejected|pin unblock: CKR_PIN_INCORRECT", 0), 0u) << rows[1];
    EXPECT_TRUE(contains(rows[1], "|" + uid + "|1")) << rows[1];
    EXPECT_EQ(rows[2], "user-pin-reset|ticket 4711: PIN blocked|" + uid + "|1");
    EXPECT_EQ(rows[3], "so-pin-changed|yearly rotation|" + uid + "|1");
    // No PIN anywhere in the file.
    const std::string db = file_state(inventory());
    for (const char* p : {"00000000", testing::SoftHsm::kSoPin, kNewPin, "11223344"})
        EXPECT_FALSE(contains(db, p)) << p;

    // `inventory show` lists them with the record, with time and operator.
    auto show = attache({"inventory", "show", "1", "--inventory", inventory(), "--json"});
    auto events = json_of(show)["card_events"];
    ASSERT_EQ(events.size(), 4u) << show.out;
    EXPECT_EQ(events[2]["event"], "user-pin-reset");
    EXPECT_EQ(events[2]["by"]["uid"], static_cast<std::int64_t>(getuid()));
    EXPECT_FALSE(events[2]["at"].get<std::string>().empty());
    auto text = attache({"inventory", "show", "1", "--inventory", inventory()});
    EXPECT_TRUE(contains(text.out, "card history:")) << text.out;
}

TEST_F(CardHistory, UnblockNeedsAReason) {
    use_filter_module({{"ATTACHE_FILTER_LOG", path("calls.log")}});
    auto r = attache({"pin", "unblock", "--module", module_, "--token", uri(serial_), "--inventory",
                      inventory(), "--so-pin-source", env(kSoPinVar), "--new-pin-source",
                      env(kNewPinVar)});
    EXPECT_NE(r.exit_code, 0) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "--reason")) << r.err;
    EXPECT_FALSE(fs::exists(path("calls.log")));
}

TEST_F(CardHistory, AnInventoryOfSchemaOneIsUpgradedWhenWritten) {
    sql("DROP TABLE card_events; UPDATE meta SET value = '1' WHERE key = 'schema_version';");
    auto listed = attache({"inventory", "show", "1", "--inventory", inventory(), "--json"});
    ASSERT_EQ(listed.exit_code, 0) << testing::describe(listed);
    EXPECT_EQ(json_of(listed)["card_events"].size(), 0u);
    auto changed =
        pin("change", {"--pin-source", env(kPinVar), "--new-pin-source", env(kNewPinVar)});
    ASSERT_EQ(changed.exit_code, 0) << testing::describe(changed);
    EXPECT_EQ(sql("SELECT value FROM meta WHERE key = 'schema_version';"), "3\n");
    EXPECT_EQ(card_events().size(), 1u);
}

TEST_F(CardHistory, AnInventoryOfSchemaTwoIsUpgradedToTakeCardAuthKeys) {
    // Schema 2's key table: its CHECK knows no card-auth role.
    sql("CREATE TABLE k2 AS SELECT * FROM enrolment_keys; DROP TABLE enrolment_keys;"
        "CREATE TABLE enrolment_keys (enrolment_id INTEGER NOT NULL REFERENCES enrolments (id),"
        " role TEXT NOT NULL CHECK (role IN ('authentication', 'encryption')),"
        " key_id TEXT NOT NULL, label TEXT NOT NULL, key_type TEXT NOT NULL,"
        " spki_sha256 TEXT NOT NULL, csr_path TEXT NOT NULL, cert_serial TEXT, cert_issuer TEXT,"
        " cert_not_after TEXT, cert_sha256 TEXT, cert_imported_at TEXT,"
        " PRIMARY KEY (enrolment_id, role), UNIQUE (enrolment_id, key_id));"
        "INSERT INTO enrolment_keys SELECT * FROM k2; DROP TABLE k2;"
        "UPDATE meta SET value = '2' WHERE key = 'schema_version';");
    const std::string keys = sql("SELECT role, key_id, spki_sha256 FROM enrolment_keys;");
    const std::string card_auth =
        "INSERT INTO enrolment_keys (enrolment_id, role, key_id, label, key_type, spki_sha256, "
        "csr_path) VALUES (1, 'card-auth', '04', 'x', 'ec-p256', 'x', '');";
    auto refused = testing::run_command({"sqlite3", inventory(), card_auth});
    EXPECT_NE(refused.exit_code, 0) << testing::describe(refused);
    auto changed =
        pin("change", {"--pin-source", env(kPinVar), "--new-pin-source", env(kNewPinVar)});
    ASSERT_EQ(changed.exit_code, 0) << testing::describe(changed);
    EXPECT_EQ(sql("SELECT value FROM meta WHERE key = 'schema_version';"), "3\n");
    EXPECT_EQ(sql("SELECT role, key_id, spki_sha256 FROM enrolment_keys;"), keys);
    sql(card_auth);
    EXPECT_TRUE(contains(sql("SELECT role FROM enrolment_keys WHERE key_id = '04';"), "card-auth"));
}

TEST_F(CardHistory, VerifyCardNamesALostCardsRecord) {
    // Before: a lost card with its keys intact "matched the inventory" (exit 0).
    auto lost = attache({"inventory", "set-state", "1", "lost", "--reason", "stolen in transit",
                         "--inventory", inventory()});
    ASSERT_EQ(lost.exit_code, 0) << testing::describe(lost);
    auto r = verify_card(serial_);
    EXPECT_EQ(r.exit_code, 11) << testing::describe(r);
    auto j = json_of(r);
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["state"], "lost");
    EXPECT_EQ(j["record"], 1);
    const std::string problem = j["card_problems"][0];
    EXPECT_TRUE(contains(problem, "card serial " + serial_ + " is recorded as lost since " +
                                      j["since"].get<std::string>() + " (record 1"))
        << problem;
    EXPECT_TRUE(contains(problem, "it must not be used")) << problem;
    auto text = attache({"verify-card", "--module", module_, "--token", uri(serial_), "--inventory",
                         inventory(), "--pin-source", env(kPinVar)});
    EXPECT_EQ(text.exit_code, 11);
    EXPECT_TRUE(contains(text.out, "is recorded as lost since")) << text.out;
    EXPECT_FALSE(contains(text.out + text.err, "substituted")) << text.out;
}

TEST_F(CardHistory, VerifyCardNamesARetiredCardsRecord) {
    // Before: "has no open enrolment ... (substituted?)".
    auto retired = attache({"retire", "--module", module_, "--token", uri(serial_), "--inventory",
                            inventory(), "--pin-source", env(kPinVar), "--confirm", serial_});
    ASSERT_EQ(retired.exit_code, 0) << testing::describe(retired);
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{}, std::vector<std::string>{"--record", "1"}}) {
        std::vector<std::string> argv = {"verify-card", "--module",     module_,
                                         "--token",     uri(serial_),   "--inventory",
                                         inventory(),   "--pin-source", env(kPinVar)};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto r = attache(argv);
        EXPECT_EQ(r.exit_code, 11) << testing::describe(r);
        EXPECT_TRUE(contains(r.out, "card serial " + serial_ + " is recorded as retired since"))
            << r.out;
        EXPECT_TRUE(contains(r.out, "(record 1, holder Alice Martin)")) << r.out;
        EXPECT_FALSE(contains(r.out + r.err, "substituted")) << r.out;
    }
}

}  // namespace
}  // namespace attache::enrol_test
