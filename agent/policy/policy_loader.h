#pragma once

// The agent's policy at start-up: the admin's file (agent.toml's `policy`, default
// /etc/attache/policy.toml; missing: the built-in default), with the user's file layered on
// top (it can only make decisions stricter). A file that does not parse stops the agent.

#include <filesystem>

#include "agent/config/config.h"
#include "agent/policy/policy.h"

namespace attache::agent {

// ~/.config/attache/policy.toml ($XDG_CONFIG_HOME honoured); empty when neither is set.
std::filesystem::path default_user_policy_file();

// A missing file is skipped (the admin's: builtin_default()); an unreadable or malformed one is
// an error naming the file and line.
Result<Policy> load_policy(const Config& config, const std::filesystem::path& user_file);

}  // namespace attache::agent
