#pragma once

// A real attache-agent process for integration tests: a private SoftHSM2 installation with one
// or more tokens holding freshly generated keys, the agent started on it (directly on SoftHSM2
// or through the fault-injecting token), and helpers to talk to it with the protocol client
// and the real `attache` CLI.

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pkcs11/agent_protocol/client.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/keygen.h"
#include "pkcs11/module.h"
#include "tests/faulttoken/fault_control.h"
#include "tests/support/command.h"
#include "tests/support/softhsm.h"
#include "tests/support/test_policy.h"

namespace attache::testing {

struct TestKey {
    p11::KeyAlgorithm algorithm;
    std::string label;
    p11::KeyUsage usage;
    bool always_authenticate = false;  // the token asks the PIN before every use
};

// A sign key of each type plus an RSA decryption key and an EC derive key.
std::vector<TestKey> default_keys();

struct AgentOptions {
    bool fault_token = false;  // load the fault-injecting module instead of SoftHSM2
    std::string module;        // load this module instead (OpenSC on a real reader); empty: none
    std::vector<std::string> more_modules;  // configured after the first one
    std::string extra_config;               // appended to the agent's TOML file
    std::string admin_config;  // the administrator's file (--admin-config); empty: none
    // The admin's policy.toml. nullopt: kTestPolicy (the test's own process is allowed
    // everything but forwarded SSH); empty: none, so the built-in default applies.
    std::optional<std::string> policy;
    std::optional<uid_t> run_as;  // start the agent as this uid (test runs as root)
    // The agent binary; empty: the build's. (Another uid may not reach the build tree.)
    std::string agent_path;
    // The agent's `pinentry`; empty: none, so a locked token fails at once (no prompt).
    std::string pinentry;
    int poll_interval_ms = 100;
    // The agent's workers_per_token; 0 leaves it out (the agent's default).
    unsigned workers_per_token = 2;
    // Runs after the fault token's control file exists, before the agent starts.
    std::function<void(faulttoken::FaultControl&)> before_start;
};

// A raw connection to a socket (no handshake), with a 20 s receive timeout so that a broken
// agent fails the test instead of hanging it; invalid when the connection failed.
UniqueFd raw_connect(const std::string& path);
// True when the agent closed `fd` without a word (waiting up to raw_connect's 20 s timeout).
bool closed_by_agent(int fd);

class AgentFixture {
  public:
    AgentFixture();
    ~AgentFixture();

    // Adds a token with keys (call before start()). Returns its slot.
    CK_SLOT_ID add_token(const std::string& label, const std::vector<TestKey>& keys);
    // Generates keys on a token of this fixture; works while the agent runs (another program
    // changing the card).
    void add_keys(CK_SLOT_ID slot, const std::vector<TestKey>& keys);
    // Starts the agent and waits until it answers. Fails the test when it does not.
    void start(const AgentOptions& options = {});
    // SIGTERM and wait; returns the exit status (-1 if killed).
    int stop();
    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }

    std::string socket() const { return (dir_.path() / "run/agent.sock").string(); }
    const TempDir& dir() const { return dir_; }
    SoftHsm& hsm() { return hsm_; }
    faulttoken::FaultControl& fault() { return *fault_; }
    std::string log() const;

    protocol::Client client();
    // Runs the attache CLI against this agent.
    CommandResult cli(const std::vector<std::string>& args, const std::string& input = {},
                      std::map<std::string, std::string> env = {});
    // Unlocks the only (or the named) token with the test PIN through the protocol.
    void unlock(const std::string& token_uri = {});

    // The agent's keys by label.
    protocol::KeyEntry key(const std::string& label);

  private:
    TempDir dir_{"attache-agent-test"};
    SoftHsm hsm_;
    std::unique_ptr<faulttoken::FaultControl> fault_;
    pid_t pid_ = -1;
};

// Writes `data` to a file in `dir` and returns its path.
std::string write_temp(const TempDir& dir, const std::string& name, const Bytes& data);

}  // namespace attache::testing
