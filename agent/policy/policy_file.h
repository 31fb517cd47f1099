#pragma once

// The policy file's TOML (docs/policy.md) read into one layer of rules. Every error names the
// file, the line and the key; unknown keys and values are errors (a typo must not allow).

#include <string>
#include <string_view>

#include "agent/policy/policy_rules.h"

namespace attache::agent {

Result<Policy::Rules> parse_policy_rules(std::string_view text, std::string origin);

}  // namespace attache::agent
