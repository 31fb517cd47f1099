#pragma once

// The policy a test's agent runs with unless the test gives its own: every client of the test
// is allowed (its processes run in no login session, or under sshd in CI), forwarded SSH
// agents are not. Without it the built-in default would ask to confirm each use by a program
// not on its list, and a test's agent has no dialog.

#include <filesystem>
#include <string>

namespace attache::testing {

inline constexpr const char* kTestPolicy = R"(
[[rule]]
name = "forwarded ssh agents"
channel = ["ssh"]
forwarded = true
action = "deny"

[[rule]]
name = "the test's clients"
action = "allow"
)";

// Writes DIR/policy.toml (`policy_text`; empty: none, so the built-in default applies) and
// DIR/admin.toml naming it, followed by `admin_extra`; returns the admin file for
// `attache-agent --admin-config`.
std::filesystem::path write_test_admin_config(const std::filesystem::path& dir,
                                              const std::string& policy_text = kTestPolicy,
                                              const std::string& admin_extra = {});

}  // namespace attache::testing
