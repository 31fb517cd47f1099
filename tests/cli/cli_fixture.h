#pragma once

// The CLI tests' fixture: a real attache-agent on a SoftHSM2 card "alice" (an EC P-256 signing
// key "ec-sign" and an RSA decryption key "rsa-decrypt"), unlocked, and the real `attache`
// binary run against it.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/agent/agent_fixture.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {

class CliTest : public ::testing::Test {
  protected:
    // Adds the card; `extra_keys` join the default two. Call start() afterwards (SetUp does
    // both with no extra keys unless a test class overrides it).
    void SetUp() override;
    void add_card(const std::vector<TestKey>& extra_keys = {});
    void start(const AgentOptions& options = {});

    CommandResult attache(const std::vector<std::string>& args, const std::string& input = {}) {
        return agent_.cli(args, input);
    }
    // How many audit records of `op` the agent's log holds.
    size_t audit_count(const std::string& op) const;

    AgentFixture agent_;
    TempDir tmp_{"attache-cli-test"};
};

// Parses a command's standard output as JSON; a test failure (and null) when it is not.
nlohmann::json json_of(const CommandResult& r);

// Whether `signature` (DER ECDSA over SHA-256) of `message` verifies with the key's public key.
bool signature_verifies(const protocol::KeyEntry& key, const std::string& message,
                        const std::string& signature);

// "2026-12-01T20:48:58Z".
bool is_rfc3339_utc(const std::string& text);

// Copies of the built binaries in a directory every user may enter and run (the checkout may
// sit where other users cannot reach).
class ReachableBinaries {
  public:
    ReachableBinaries();
    std::string cli() const { return (dir_ / "attache").string(); }
    std::string agent() const { return (dir_ / "attache-agent").string(); }

  private:
    TempDir dir_{"attache-cli-bin"};
};

}  // namespace attache::testing
