#pragma once

// Everything the benchmark measures against, made fresh in a temporary directory:
//   - a SoftHSM2 installation with the token "bench" holding one key per mechanism, made
//     before any server starts (SoftHSM2 reads its token files when it is initialised);
//   - a second installation with the tokens "iso-a" and "iso-b" for the isolation test;
//   - attache-agent on the bench token (started several times to time its start), unlocked;
//   - OpenSSH's ssh-agent holding the bench token's keys through `ssh-add -s`;
//   - `p11-kit server` exporting the bench token to p11-kit-client.so;
//   - a second attache-agent on both isolation tokens through the fault-injecting module;
//   - a third installation with the token "fair" for the fairness measurement, served by an
//     attache-agent with one session per token through the fault-injecting module;
//   - an attache-agent on the bench token with module_process = "helper".

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"
#include "tests/bench/processes.h"
#include "tests/bench/spec.h"
#include "tests/faulttoken/fault_control.h"
#include "tests/support/temp_dir.h"

namespace attache::bench {

struct BenchKey {
    Mech mech;
    std::string label;            // CKA_LABEL on the token
    Bytes spki;                   // from the token's public key object
    std::string agent_id;         // attache-agent's key id
    std::string helper_agent_id;  // the key id on the agent with module_process = "helper"
};

struct Tools {
    std::string agent;          // attache-agent
    std::string cli;            // attache
    std::string faulttoken;     // libattache-faulttoken.so
    std::string module_helper;  // attache-module-helper (path g)
    std::string softhsm;        // libsofthsm2.so
    std::string p11kit_client;
    // Run the benchmarked attache-agent under this command (profiling: "valgrind
    // --tool=callgrind ..."); empty: run it directly.
    std::vector<std::string> agent_wrapper;
    // Extra lines for the benchmarked agent's agent.toml (trying a setting: "workers_per_token
    // = 8"); empty: the defaults.
    std::vector<std::string> agent_config;
};

class Environment {
  public:
    explicit Environment(Tools tools);
    ~Environment();

    // Makes the SoftHSM2 installations, tokens and keys. Call first, before anything in this
    // process loads a PKCS#11 module: the isolation tokens' keys are made in a forked child
    // with their own SOFTHSM2_CONF, and this process then keeps the bench installation's.
    Status make_tokens(const std::vector<Mech>& mechs, bool isolation_tokens, bool fairness_token);

    // Starts attache-agent `samples` times, timing each start to its first served `list keys`;
    // the last one keeps running, is unlocked, and its idle RSS is read.
    Status start_agent(int samples);
    Status start_ssh_agent();
    Status start_p11kit_server();
    // The agent on the fault-injecting module, with both isolation tokens unlocked.
    Status start_isolation_agent();
    // The agent on the fault-injecting module with the fairness token, unlocked, with one
    // session per token (workers_per_token = 1: a smartcard).
    Status start_fairness_agent();
    // A second agent on the bench token that runs SoftHSM2 in a module helper process
    // (module_process = "helper"), unlocked; its key ids go to BenchKey::helper_agent_id.
    Status start_helper_agent();

    const Tools& tools() const { return tools_; }
    const std::string& bench_token() const { return bench_token_; }
    const BenchKey* key(Mech m) const;
    const Bytes& message() const { return message_; }
    const Bytes& ciphertext() const { return ciphertext_; }
    const Bytes& plaintext() const { return plaintext_; }

    std::string agent_socket() const;
    std::string agent_ssh_socket() const;
    std::string ssh_agent_socket() const;
    std::string p11kit_socket() const;
    std::string helper_agent_socket() const;
    pid_t agent_pid() const { return agent_.pid(); }
    pid_t ssh_agent_pid() const { return ssh_agent_.pid(); }
    pid_t p11kit_pid() const { return p11kit_.pid(); }
    // Empties the agent's log (its audit lines would fill the disk over a long run).
    void truncate_agent_log() const;
    std::string agent_log_tail() const;

    // Start-to-first-list-keys times (ms), idle RSS after unlock (KiB).
    const std::vector<double>& startup_ms() const { return startup_ms_; }
    long idle_rss_kib() const { return idle_rss_kib_; }
    long idle_pss_kib() const { return idle_pss_kib_; }
    long idle_anon_kib() const { return idle_anon_kib_; }

    // Isolation: the agent's sockets, the two tokens' slots and keys, and its fault control.
    std::string isolation_socket() const;
    std::string isolation_ssh_socket() const;
    CK_SLOT_ID iso_slot_a() const { return iso_slot_a_; }
    const BenchKey& iso_key_a() const { return iso_key_a_; }
    const BenchKey& iso_key_b() const { return iso_key_b_; }
    faulttoken::FaultControl& fault() { return *fault_; }

    // Fairness: the agent's socket, its key and its fault control.
    std::string fairness_socket() const;
    const BenchKey& fairness_key() const { return fair_key_; }
    faulttoken::FaultControl& fairness_fault() { return *fair_fault_; }

  private:
    Result<CK_SLOT_ID> init_token(const std::string& conf, const std::string& label);
    Status start_attache(Child& child, const std::string& name, const std::string& module,
                         const std::string& tokens, const std::map<std::string, std::string>& env,
                         const std::vector<std::string>& config_lines = {});

    Tools tools_;
    testing::TempDir dir_{"attache-bench"};
    std::string bench_token_ = "bench";
    std::string bench_conf_;
    std::string iso_conf_;
    std::string fair_conf_;
    std::vector<BenchKey> keys_;
    Bytes message_;
    Bytes plaintext_;
    Bytes ciphertext_;

    Child agent_;
    Child ssh_agent_;
    Child p11kit_;
    Child iso_agent_;
    Child fair_agent_;
    Child helper_agent_;
    std::vector<double> startup_ms_;
    long idle_rss_kib_ = -1;
    long idle_pss_kib_ = -1;
    long idle_anon_kib_ = -1;

    CK_SLOT_ID iso_slot_a_ = 0;
    BenchKey iso_key_a_{Mech::ec_p256, "iso-a-ec", {}, {}};
    BenchKey iso_key_b_{Mech::ec_p256, "iso-b-ec", {}, {}};
    std::unique_ptr<faulttoken::FaultControl> fault_;
    BenchKey fair_key_{Mech::ec_p256, "fair-ec", {}, {}};
    std::unique_ptr<faulttoken::FaultControl> fair_fault_;
};

// The agent's key id of every key, by label, from a `list keys` on `socket`. Fails if a key
// is not served.
Status fill_agent_ids(const std::string& socket, std::vector<BenchKey*> keys,
                      std::string BenchKey::*id = &BenchKey::agent_id);

}  // namespace attache::bench
