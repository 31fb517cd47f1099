#pragma once

// What a command prints. A command body returns a Report: a JSON document (printed with --json)
// and the same result as text for people. Progress and warnings go to standard error, so
// standard output stays parseable. A CommandFailure becomes "attache: <message>" on standard
// error (and {"ok": false, ...} on standard output with --json) and sets the exit code.

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"

namespace attache::cli::admin {

struct Report {
    nlohmann::json json = nlohmann::json::object();
    std::string text;
    int exit_code = kOk;
};

void run_command(bool json, int& exit_code, const std::function<Report()>& body);

// One line of progress or warning on standard error.
void note(std::string_view message);

}  // namespace attache::cli::admin
