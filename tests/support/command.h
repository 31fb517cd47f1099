#pragma once

#include <map>
#include <string>
#include <vector>

namespace attache::testing {

struct CommandResult {
    int exit_code = -1;  // -1: did not exit normally (signal)
    std::string out;     // standard output
    std::string err;     // standard error
};

// Runs argv[0] (searched in PATH) with the given arguments, feeding `input` on standard input,
// with extra environment variables set on top of this process's environment. Waits for it.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = {},
                          const std::map<std::string, std::string>& env = {});

// Joins a command result into one readable string for assertion messages.
std::string describe(const CommandResult& r);

}  // namespace attache::testing
