// `attache audit verify` (the real CLI binary) on chains written by the real sink: intact, and
// each kind of damage named with its line and sequence number.

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "agent/audit/chained_file_sink.h"
#include "tests/audit/audit_fixture.h"

namespace attache::audit::testing {
namespace {

constexpr int kBroken = 17;  // cli/exit_codes.h kAuditChainBroken

class AuditVerify : public AuditFileTest {};

void expect_problem(const nlohmann::json& j, const std::string& kind, size_t line,
                    nlohmann::json seq) {
    ASSERT_TRUE(j.contains("problem")) << j.dump(2);
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["intact"], false);
    EXPECT_EQ(j["problem"]["kind"], kind) << j.dump(2);
    EXPECT_EQ(j["problem"]["line"], line) << j.dump(2);
    EXPECT_EQ(j["problem"]["seq"], seq) << j.dump(2);
}

TEST_F(AuditVerify, AnIntactChainIsReportedWithItsRange) {
    write_records(5);
    ASSERT_EQ(lines().size(), 6u);  // the header and five records
    auto j = verify_json(true, 0);
    EXPECT_EQ(j["ok"], true);
    EXPECT_EQ(j["intact"], true);
    EXPECT_EQ(j["macs_checked"], true);
    EXPECT_EQ(j["records"], 6);
    EXPECT_EQ(j["first_seq"], 0);
    EXPECT_EQ(j["last_seq"], 5);

    const auto text = verify_cli(true, false);
    EXPECT_EQ(text.exit_code, 0);
    EXPECT_EQ(text.out, "chain intact: 6 records, seq 0..5\n");
}

TEST_F(AuditVerify, ADeletedRecordIsNamed) {
    write_records(5);
    auto l = lines();
    l.erase(l.begin() + 3);  // seq 3
    set_lines(l);
    auto j = verify_json(true, kBroken);
    expect_problem(j, "missing", 4, 4);
    EXPECT_EQ(j["problem"]["message"], "seq 3 is missing (line 4 holds seq 4)");
    // The sequence numbers show it without the key too.
    expect_problem(verify_json(false, kBroken), "missing", 4, 4);
}

TEST_F(AuditVerify, OneAlteredByteIsFoundWithTheKeyOnly) {
    write_records(5);
    auto l = lines();
    const size_t at = l[2].find("exe=/usr/bin/ssh");
    ASSERT_NE(at, std::string::npos) << l[2];
    l[2][at + std::string("exe=/usr/bin/ss").size()] = 'i';  // /usr/bin/ssi
    set_lines(l);
    auto j = verify_json(true, kBroken);
    expect_problem(j, "altered", 3, 2);
    EXPECT_EQ(j["problem"]["message"], "line 3 (seq 2) was altered: its MAC does not match");

    auto keyless = verify_cli(false, false);
    EXPECT_EQ(keyless.exit_code, 0) << attache::testing::describe(keyless);
    EXPECT_NE(keyless.out.find("MACs not checked"), std::string::npos) << keyless.out;
    EXPECT_EQ(verify_json(false, 0)["macs_checked"], false);
}

TEST_F(AuditVerify, SwappedRecordsAreReordered) {
    write_records(5);
    auto l = lines();
    std::swap(l[2], l[3]);  // seq 2 and 3
    set_lines(l);
    auto j = verify_json(true, kBroken);
    expect_problem(j, "reordered", 3, 3);
    EXPECT_EQ(j["problem"]["message"],
              "seq 2 is at line 4, after seq 3 at line 3: the records are out of order");

    auto text = verify_cli(true, false);
    EXPECT_EQ(text.exit_code, kBroken);
    EXPECT_EQ(text.out.rfind("chain broken (reordered): seq 2 is at line 4", 0), 0u) << text.out;
}

TEST_F(AuditVerify, ACutOffStartIsNamed) {
    write_records(5);
    auto l = lines();
    l.erase(l.begin(), l.begin() + 2);  // the header and seq 1
    set_lines(l);
    auto j = verify_json(true, kBroken);
    expect_problem(j, "head-missing", 1, 2);
    EXPECT_EQ(j["problem"]["message"],
              "line 1 holds seq 2, not the chain's header: the start of the file is missing");
    expect_problem(verify_json(false, kBroken), "head-missing", 1, 2);
}

TEST_F(AuditVerify, ARecordOfAnotherChainIsForeign) {
    write_records(5);
    const std::string mine = file_;
    // Another file, same key: its records verify under their own chain only.
    file_ = (dir_ / "other.log").string();
    write_records(3);
    const std::string spliced = lines()[3];  // its seq 3
    file_ = mine;
    auto l = lines();
    l.push_back(spliced);
    set_lines(l);
    auto j = verify_json(true, kBroken);
    expect_problem(j, "foreign", 7, 3);
    expect_problem(verify_json(false, kBroken), "foreign", 7, 3);

    // Its whole file appended: its header is named.
    file_ = (dir_ / "other.log").string();
    auto other = lines();
    file_ = mine;
    l.pop_back();
    l.insert(l.end(), other.begin(), other.end());
    set_lines(l);
    expect_problem(verify_json(true, kBroken), "foreign", 7, 0);
}

TEST_F(AuditVerify, ARestartedBrokerContinuesTheChain) {
    write_records(3);
    write_records(2, 3);
    auto l = lines();
    ASSERT_EQ(l.size(), 7u);  // header, 3, resume, 2
    EXPECT_NE(l[4].find(" type=resume"), std::string::npos) << l[4];
    auto j = verify_json(true, 0);
    EXPECT_EQ(j["records"], 7);
    EXPECT_EQ(j["last_seq"], 6);
}

TEST_F(AuditVerify, ARestartAfterDamageSaysWhereAndNeverChainsOntoIt) {
    write_records(4);
    auto l = lines();
    l[2].replace(l[2].find("uid=1000"), 8, "uid=1001");  // seq 2
    set_lines(l);
    write_records(1, 4);  // the broker restarts: it finds the damage
    l = lines();
    ASSERT_EQ(l.size(), 7u);
    EXPECT_NE(l[5].find(" type=header format=1 after_damage_seq=2 damage="), std::string::npos)
        << l[5];
    EXPECT_EQ(l[5].rfind("seq=5 ", 0), 0u) << l[5];

    auto j = verify_json(true, kBroken);
    expect_problem(j, "altered", 3, 2);  // the first damage stays the finding
    ASSERT_EQ(j["restarts"].size(), 1u);
    EXPECT_EQ(j["restarts"][0]["line"], 6);
    EXPECT_EQ(j["restarts"][0]["after_damage_seq"], "2");

    // Without the key the alteration is invisible, the broker's restart is not.
    expect_problem(verify_json(false, kBroken), "restarted", 6, 5);

    // A second restart continues the new segment: no second damage header.
    write_records(1, 5);
    l = lines();
    ASSERT_EQ(l.size(), 9u);
    EXPECT_NE(l[7].find(" type=resume"), std::string::npos) << l[7];
    EXPECT_EQ(verify_json(true, kBroken)["restarts"].size(), 1u);
}

TEST_F(AuditVerify, ACutOffLastWriteIsDamageTheBrokerStepsOver) {
    write_records(2);
    std::string text = attache::testing::read_file(file_);
    text.resize(text.size() - 10);  // a write cut off by a crash
    attache::testing::write_file(file_, text);
    write_records(1, 2);
    auto j = verify_json(true, kBroken);
    expect_problem(j, "malformed", 3, nullptr);
    ASSERT_EQ(j["restarts"].size(), 1u);
    EXPECT_EQ(j["restarts"][0]["line"], 4);  // on a line of its own
}

TEST_F(AuditVerify, TheWrongKeyFailsAtTheHeader) {
    write_records(2);
    key_file_ = (dir_ / "other.key").string();
    ASSERT_TRUE(create_audit_key(key_file_));
    expect_problem(verify_json(true, kBroken), "altered", 1, 0);
}

TEST_F(AuditVerify, AKeyFileOthersCanReadIsRefused) {
    write_records(1);
    ASSERT_EQ(::chmod(key_file_.c_str(), 0644), 0);
    const auto r = verify_cli(true, false);
    EXPECT_EQ(r.exit_code, 1) << attache::testing::describe(r);
    EXPECT_NE(r.err.find("has mode 0644"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
}

TEST_F(AuditVerify, AnEmptyOrMissingFileIsNoChain) {
    attache::testing::write_file(file_, "");
    expect_problem(verify_json(true, kBroken), "empty", 0, nullptr);
    file_ = (dir_ / "absent.log").string();
    const auto r = verify_cli(true, false);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
}

TEST_F(AuditVerify, NewKeyMakesAKeyOnceAndNeverReplacesIt) {
    const std::string path = (dir_ / "new.key").string();
    auto r = attache::testing::run_command({ATTACHE_CLI_PATH, "audit", "new-key", path});
    ASSERT_EQ(r.exit_code, 0) << attache::testing::describe(r);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0400u);
    EXPECT_EQ(st.st_size, 32);
    const std::string before = attache::testing::read_file(path);
    r = attache::testing::run_command({ATTACHE_CLI_PATH, "audit", "new-key", path});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("never replaced"), std::string::npos) << r.err;
    EXPECT_EQ(attache::testing::read_file(path), before);
}

}  // namespace
}  // namespace attache::audit::testing
