#pragma once

// What every `attache` command prints, user and admin commands alike.
//
// A command body returns a Report: a JSON object (printed with --json) and the same result as
// text for people. A failure is a CommandFailure (thrown by fail()): "attache: <message>" on
// standard error, and with --json {"ok": false, "error": message, "exit_code": N} on standard
// output. Success with --json: the Report's object with "ok": true. Progress and warnings go to
// standard error (note()), so that standard output stays parseable.
//
// Messages speak of cards, PINs and what to do. What lies behind them (the PKCS#11 call and its
// CKR_ name, the agent's own words) is the failure's detail, shown with --verbose (and in the
// JSON as "detail").

#include <CLI/CLI.hpp>

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"

namespace attache::cli {

struct Report {
    nlohmann::json json = nlohmann::json::object();
    std::string text;
    int exit_code = kOk;
};

class CommandFailure : public std::runtime_error {
  public:
    // `extra`: fields added to the failure's JSON object (e.g. "candidates").
    CommandFailure(int exit_code, const std::string& message, std::string detail = {},
                   nlohmann::json extra = nlohmann::json::object())
        : std::runtime_error(message),
          exit_code_(exit_code),
          detail_(std::move(detail)),
          extra_(std::move(extra)) {}
    int exit_code() const { return exit_code_; }
    const std::string& detail() const { return detail_; }
    const nlohmann::json& extra() const { return extra_; }

  private:
    int exit_code_;
    std::string detail_;
    nlohmann::json extra_;
};

[[noreturn]] void fail(int exit_code, const std::string& message, const std::string& detail = {});

// --json (bound to `json`) and --verbose, on one command.
void add_output_flags(CLI::App& command, bool& json);

// Runs `body`, prints its Report or its failure, and stores the exit code.
void run_command(bool json, int& exit_code, const std::function<Report()>& body);

// One line of progress or warning on standard error.
void note(std::string_view message);

// main(): a command-line error (exit code kUsage), as JSON on standard output when the command
// line asked for --json. Returns the exit code.
int report_usage_error(int argc, char** argv, const std::string& message);

}  // namespace attache::cli
