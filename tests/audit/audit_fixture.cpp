#include "tests/audit/audit_fixture.h"

#include <gtest/gtest.h>

#include "agent/audit/audit_key.h"

namespace attache::audit::testing {

agent::AuditRecord sample_record(int n, uid_t uid) {
    agent::AuditRecord r;
    r.operation = agent::OperationKind::sign;
    r.channel = n % 2 == 0 ? agent::Channel::native : agent::Channel::ssh;
    r.subject = "3f2a" + std::to_string(n);
    r.client.pid = 4000 + n;
    r.client.uid = uid;
    r.client.exe = "/usr/bin/ssh";
    r.client.session = agent::SessionKind::local;
    r.rule = "built-in default rule 4 'confirm the rest'";
    r.confirmation = "confirmed";
    r.ssh_destination = "SHA256:abc \"quoted\" \n newline";
    r.result = n % 3 == 0 ? "ok" : "refused";
    if (r.result != "ok") {
        r.step = "confirm";
        r.reason = "the user said no (caf\xc3\xa9)";
    }
    return r;
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t end = text.find('\n', pos);
        lines.push_back(text.substr(pos, end - pos));
        if (end == std::string::npos)
            break;
        pos = end + 1;
    }
    return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& l : lines)
        text += l + "\n";
    return text;
}

void AuditFileTest::SetUp() {
    key_file_ = (dir_ / "audit.key").string();
    file_ = (dir_ / "audit.log").string();
    auto made = create_audit_key(key_file_);
    ASSERT_TRUE(made) << made.error().message();
}

AuditKey AuditFileTest::key() const {
    auto k = load_audit_key(key_file_);
    if (!k)
        throw std::runtime_error(k.error().message());
    return std::move(*k);
}

std::unique_ptr<ChainedFileAuditSink> AuditFileTest::open_sink() const {
    auto sink = ChainedFileAuditSink::open(file_, key(), FsyncPolicy::background);
    if (!sink)
        throw std::runtime_error(sink.error().message());
    return std::move(*sink);
}

void AuditFileTest::write_records(int records, int first) const {
    auto sink = open_sink();
    for (int i = first; i < first + records; ++i) {
        sink->record(sample_record(i));
        if (!sink->last_status())
            throw std::runtime_error(sink->last_status().error().message());
    }
}

std::vector<std::string> AuditFileTest::lines() const {
    return split_lines(attache::testing::read_file(file_));
}

void AuditFileTest::set_lines(const std::vector<std::string>& lines) const {
    attache::testing::write_file(file_, join_lines(lines));
}

attache::testing::CommandResult AuditFileTest::verify_cli(bool with_key, bool json) const {
    std::vector<std::string> argv{ATTACHE_CLI_PATH, "audit", "verify", file_};
    if (with_key) {
        argv.push_back("--key-file");
        argv.push_back(key_file_);
    }
    if (json)
        argv.push_back("--json");
    return attache::testing::run_command(argv);
}

nlohmann::json AuditFileTest::verify_json(bool with_key, int exit_code) const {
    const auto r = verify_cli(with_key);
    EXPECT_EQ(r.exit_code, exit_code) << attache::testing::describe(r);
    try {
        return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not JSON: " << e.what() << "\n" << attache::testing::describe(r);
        return nlohmann::json::object();
    }
}

}  // namespace attache::audit::testing
