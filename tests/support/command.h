#pragma once

#include <map>
#include <string>
#include <vector>

namespace attache::testing {

struct CommandResult {
    int exit_code = -1;      // -1: did not exit normally (signal)
    std::string out;         // standard output
    std::string err;         // standard error
    bool timed_out = false;  // run_command_within: killed at the deadline
};

// Runs argv[0] (searched in PATH) with the given arguments, feeding `input` on standard input,
// with extra environment variables set on top of this process's environment. Waits for it.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = {},
                          const std::map<std::string, std::string>& env = {});

// The same, for a command that might hang (the failure under test): it runs in a process group
// of its own, which is killed when the command has not exited and closed its output within
// `timeout_ms`. Meant as a bound on a failure, never as a measurement: give it seconds.
CommandResult run_command_within(int timeout_ms, const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env = {});

// Joins a command result into one readable string for assertion messages.
std::string describe(const CommandResult& r);

}  // namespace attache::testing
