// The audit library's parts on their own: the line format, the key file's checks, the sinks
// (file mode, fan-out, from a config), the journal entry, a user's own records.

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "agent/audit/audit_file.h"
#include "agent/audit/audit_sinks.h"
#include "agent/audit/chain_verify.h"
#include "agent/audit/fan_out_sink.h"
#include "agent/audit/journal_audit_sink.h"
#include "agent/audit/record_line.h"
#include "agent/audit/user_records.h"
#include "agent/workstation/journal.h"
#include "tests/audit/audit_fixture.h"

namespace attache::audit::testing {
namespace {

using attache::testing::read_file;
using attache::testing::write_file;

TEST(RecordLine, ValuesThatNeedQuotesSurviveTheRoundTrip) {
    const Fields fields{
        {"seq", "7"},  {"exe", "/opt/my app/bin"}, {"reason", "said \"no\"\\ then\nleft"},
        {"empty", ""}, {"utf8", "caf\xc3\xa9"},    {"nul", std::string("a\0b", 3)}};
    const std::string body = encode_body(fields);
    EXPECT_EQ(body.find('\n'), std::string::npos) << body;
    EXPECT_NE(
        body.find("seq=7 exe=\"/opt/my app/bin\" reason=\"said \\\"no\\\"\\\\ then\\x0aleft\""),
        std::string::npos)
        << body;
    const std::string line = encode_line(body, Bytes(kMacBytes, 0xab));
    auto parsed = parse_line(line);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(parsed->fields, fields);
    EXPECT_EQ(parsed->body, body);
    EXPECT_EQ(parsed->mac, Bytes(kMacBytes, 0xab));
}

TEST(RecordLine, TheParserRefusesWhatTheWriterNeverWrites) {
    const std::string mac = " mac=" + std::string(64, '0');
    for (const std::string& bad : {
             std::string("seq=1"),                 // no mac
             "seq=1 seq=2" + mac,                  // a name twice
             "seq=1  op=x" + mac,                  // two spaces
             "seq=\"1" + mac,                      // unclosed quote
             "seq=\"\\q\"" + mac,                  // unknown escape
             "seq=\"\\x4\"" + mac,                 // short escape
             "seq=a\"b" + mac,                     // a quote inside a bare value
             "Seq=1" + mac,                        // upper-case name
             "seq=1 mac=" + std::string(63, '0'),  // short mac
             "seq=1 mac=" + std::string(64, 'A'),  // upper-case hex
             "seq=1" + mac + " op=x",              // mac not last
             "mac=" + std::string(64, '0'),        // nothing but a mac
             "seq=\"a\tb\"" + mac,                 // a raw control byte
             std::string(kMaxLineBytes + 1, 'a'),  // too long
         }) {
        EXPECT_FALSE(parse_line(bad)) << bad;
    }
    EXPECT_FALSE(parse_seq("01"));
    EXPECT_FALSE(parse_seq("-1"));
    EXPECT_FALSE(parse_seq("99999999999999999999"));
    EXPECT_EQ(parse_seq("0"), 0u);
}

TEST(RecordLine, LongValuesAreCut) {
    const std::string body = encode_body({{"reason", std::string(kMaxValueBytes * 3, 'x')}});
    EXPECT_EQ(body.size(), std::string("reason=").size() + kMaxValueBytes);
}

class AuditKeyFile : public AuditFileTest {};

TEST_F(AuditKeyFile, OnlyAPrivateRegularFileOfTheRightSizeIsAKey) {
    struct stat st {};
    ASSERT_EQ(::stat(key_file_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0400u);
    EXPECT_TRUE(load_audit_key(key_file_));

    for (mode_t mode : {0644, 0640, 0604, 0440}) {
        ASSERT_EQ(::chmod(key_file_.c_str(), mode), 0);
        auto refused = load_audit_key(key_file_);
        ASSERT_FALSE(refused) << std::oct << mode;
        EXPECT_NE(refused.error().message().find("others could read or replace it"),
                  std::string::npos)
            << refused.error().message();
    }
    ASSERT_EQ(::chmod(key_file_.c_str(), 0600), 0);
    EXPECT_TRUE(load_audit_key(key_file_));

    const std::string link = (dir_ / "link.key").string();
    ASSERT_EQ(::symlink(key_file_.c_str(), link.c_str()), 0);
    auto via_link = load_audit_key(link);
    ASSERT_FALSE(via_link);
    EXPECT_NE(via_link.error().message().find("symbolic link"), std::string::npos);

    const std::string short_key = (dir_ / "short.key").string();
    write_file(short_key, std::string(31, 'k'));
    ASSERT_EQ(::chmod(short_key.c_str(), 0400), 0);
    EXPECT_FALSE(load_audit_key(short_key));

    EXPECT_FALSE(create_audit_key(key_file_));  // never replaced
    EXPECT_FALSE(load_audit_key((dir_ / "absent.key").string()));
}

TEST_F(AuditKeyFile, ANewAuditFileIsMode0640WhateverTheUmask) {
    const mode_t old = ::umask(0);
    { auto sink = open_sink(); }
    ::umask(old);
    struct stat st {};
    ASSERT_EQ(::stat(file_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(AuditKeyFile, TheSinksFromAConfigWriteTheFile) {
    AuditConfig config;
    config.agent_log = true;
    config.file = file_;
    config.key_file = key_file_;
    config.fsync = FsyncPolicy::each_record;
    auto sink = make_audit_sink(config);
    ASSERT_TRUE(sink) << sink.error().message();
    (*sink)->record(sample_record(1));
    (*sink)->record(sample_record(2));
    const auto key = this->key();
    const ChainReport r = verify_chain(read_file(file_), &key);
    EXPECT_TRUE(r.intact()) << r.problem->message;
    EXPECT_EQ(r.records, 3u);

    ASSERT_EQ(::chmod(key_file_.c_str(), 0644), 0);
    auto refused = make_audit_sink(config);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message().find("mode 0644"), std::string::npos);
}

TEST_F(AuditKeyFile, ConcurrentRecordsMakeOneChain) {
    constexpr int kThreads = 4;
    constexpr int kEach = 50;
    {
        auto sink = open_sink();
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&sink, t] {
                for (int i = 0; i < kEach; ++i)
                    sink->record(sample_record(t * kEach + i));
            });
        for (auto& t : threads)
            t.join();
        EXPECT_TRUE(sink->last_status());
    }
    const auto key = this->key();
    const ChainReport r = verify_chain(read_file(file_), &key);
    EXPECT_TRUE(r.intact()) << r.problem->message;
    EXPECT_EQ(r.records, 1u + kThreads * kEach);
}

class Recording : public agent::AuditSink {
  public:
    void record(const agent::AuditRecord& r) override { subjects.push_back(r.subject); }
    std::vector<std::string> subjects;
};

TEST(FanOut, EverySinkGetsEveryRecordInOrder) {
    FanOutAuditSink fan;
    auto a = std::make_unique<Recording>();
    auto b = std::make_unique<Recording>();
    Recording* ra = a.get();
    Recording* rb = b.get();
    fan.add(std::move(a));
    fan.add(std::move(b));
    fan.record(sample_record(1));
    fan.record(sample_record(2));
    EXPECT_EQ(ra->subjects, (std::vector<std::string>{"3f2a1", "3f2a2"}));
    EXPECT_EQ(rb->subjects, ra->subjects);
}

TEST(Journal, TheEntryCarriesTheAttacheFields) {
    const auto entry = journal_entry(sample_record(1, 1234));
    auto has = [&](const std::string& field) {
        return std::find(entry.begin(), entry.end(), field) != entry.end();
    };
    EXPECT_TRUE(has(std::string("MESSAGE_ID=") + agent::kAuditMessageId));
    EXPECT_TRUE(has("ATTACHE_OP=sign"));
    EXPECT_TRUE(has("ATTACHE_VIA=ssh"));
    EXPECT_TRUE(has("ATTACHE_KEY=3f2a1"));
    EXPECT_TRUE(has("ATTACHE_CLIENT_UID=1234"));
    EXPECT_TRUE(has("ATTACHE_CLIENT_PID=4001"));
    EXPECT_TRUE(has("ATTACHE_CLIENT_EXE=/usr/bin/ssh"));
    EXPECT_TRUE(has("ATTACHE_RESULT=refused"));
    EXPECT_TRUE(has("ATTACHE_STOPPED_BY=confirm"));
    EXPECT_TRUE(has("SYSLOG_IDENTIFIER=attache-broker"));
    ASSERT_FALSE(entry.empty());
    EXPECT_EQ(entry[0].rfind("MESSAGE=audit: op=sign via=ssh key=3f2a1 pid=4001 uid=1234 ", 0), 0u)
        << entry[0];
    EXPECT_EQ(entry[0].find('\n'), std::string::npos);  // the destination's newline is escaped
}

TEST(Journal, WithoutAJournalItSaysSoOnceAndGoesOn) {
    if (agent::journal_available())
        GTEST_SKIP() << "a journal runs here: the failure path needs a machine without one";
    JournalAuditSink sink;
    ::testing::internal::CaptureStderr();
    sink.record(sample_record(1));
    sink.record(sample_record(2));
    const std::string err = ::testing::internal::GetCapturedStderr();
    const std::string said = "cannot write to the system journal";
    const size_t first = err.find(said);
    ASSERT_NE(first, std::string::npos) << err;
    EXPECT_EQ(err.find(said, first + 1), std::string::npos) << err;
}

TEST(UserRecords, AUserGetsOnlyTheirOwnOperations) {
    attache::testing::TempDir dir("attache-audit");
    const std::string key_file = (dir / "k").string();
    ASSERT_TRUE(create_audit_key(key_file));
    const std::string file = (dir / "audit.log").string();
    {
        auto sink = ChainedFileAuditSink::open(file, *load_audit_key(key_file), FsyncPolicy::none);
        ASSERT_TRUE(sink);
        for (int i = 0; i < 6; ++i)
            (*sink)->record(sample_record(i, i % 2 == 0 ? 1000 : 1001));
    }
    auto mine = read_user_records(file, 1001, 100);
    ASSERT_TRUE(mine) << mine.error().message();
    ASSERT_EQ(mine->size(), 3u);
    for (const auto& r : *mine) {
        EXPECT_EQ(r.seq % 2, 0u) << "seq " << r.seq;  // records 1, 3, 5 are seq 2, 4, 6
        EXPECT_NE(std::find(r.fields.begin(), r.fields.end(),
                            std::pair<std::string, std::string>{"uid", "1001"}),
                  r.fields.end());
        EXPECT_FALSE(r.time.empty());
    }
    EXPECT_EQ((*mine)[0].fields[0], (std::pair<std::string, std::string>{"op", "sign"}));

    auto newest = read_user_records(file, 1000, 2);
    ASSERT_TRUE(newest);
    ASSERT_EQ(newest->size(), 2u);
    EXPECT_EQ((*newest)[0].seq, 3u);
    EXPECT_EQ((*newest)[1].seq, 5u);

    EXPECT_TRUE(read_user_records(file, 0, 100)->empty());  // root's: none, not the headers
}

}  // namespace
}  // namespace attache::audit::testing
