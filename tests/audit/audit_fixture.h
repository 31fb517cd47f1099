#pragma once

// A chained audit file written by the real sink, with a key made by create_audit_key, in a
// temporary directory; and the real `attache audit verify` run on it.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent/audit/chained_file_sink.h"
#include "tests/support/command.h"
#include "tests/support/temp_dir.h"

namespace attache::audit::testing {

// An operation record as the broker makes them; `n` varies the key and the process.
agent::AuditRecord sample_record(int n, uid_t uid = 1000);

std::vector<std::string> split_lines(const std::string& text);
std::string join_lines(const std::vector<std::string>& lines);

class AuditFileTest : public ::testing::Test {
  protected:
    void SetUp() override;

    AuditKey key() const;
    std::unique_ptr<ChainedFileAuditSink> open_sink() const;
    // Opens the sink, writes `records` operation records, closes it.
    void write_records(int records, int first = 0) const;

    std::vector<std::string> lines() const;
    void set_lines(const std::vector<std::string>& lines) const;

    // `attache audit verify FILE [--key-file KEY] --json`
    attache::testing::CommandResult verify_cli(bool with_key, bool json = true) const;
    // The JSON report, expecting exit code `exit_code`.
    nlohmann::json verify_json(bool with_key, int exit_code) const;

    attache::testing::TempDir dir_{"attache-audit"};
    std::string key_file_;
    std::string file_;
};

}  // namespace attache::audit::testing
