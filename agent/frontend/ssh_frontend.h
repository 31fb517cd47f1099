#pragma once

// The OpenSSH agent protocol's front end (draft-ietf-sshm-ssh-agent, OpenSSH PROTOCOL.agent):
// the card's keys for ssh, ssh-add, ssh-keygen -Y and git. It translates each message into a
// broker operation, with the SSH facts of the connection (session-bind, forwarding, what the
// bytes to sign are) in the context, and the broker's answer back. Keys cannot be added:
// Attache holds only card keys. The SSH form of each key (its blob) is this front end's cache.
//
// ssh-add -s MODULE is where OpenSSH had remote code execution (CVE-2016-10009,
// CVE-2023-38408): loading a library runs its code. It is refused unless the module, after
// realpath(), is on the admin's allowlist (ssh_add_allowed_modules in /etc/attache/agent.toml)
// and one the agent loaded at start.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/core/broker/broker.h"
#include "agent/ssh/connection_binding.h"
#include "agent/ssh/keys.h"
#include "agent/ssh/messages.h"

namespace attache::agent {

struct SshOptions {
    bool allow_ssh_rsa_sha1 = false;
    std::vector<std::string> allowed_modules;  // canonical paths, from the admin's config
};

// Modules whose keys `ssh-add -e MODULE` took off the SSH socket, until `ssh-add -s MODULE`
// puts them back, and those `ssh-add -t LIFE -s MODULE` put back for LIFE only. Shared by
// every SSH connection of the agent.
class SshModuleSwitch {
  public:
    using Clock = std::chrono::steady_clock;

    bool any_hidden() const;
    bool hidden(const std::string& canonical_path) const;
    // Clears a lifetime and a confirmation given before.
    void set_hidden(const std::string& canonical_path, bool hidden);
    // Shows the module's keys now and hides them again after `lifetime` (checked when keys are
    // looked up: no timer).
    void show_for(const std::string& canonical_path, Clock::duration lifetime);
    // `ssh-add -c -s MODULE`: every signature with the module's keys is confirmed by the user;
    // `ssh-add -e MODULE` ends it.
    bool confirm_each_use(const std::string& canonical_path) const;
    void set_confirm_each_use(const std::string& canonical_path);

  private:
    mutable std::mutex mutex_;
    std::set<std::string> hidden_;
    std::set<std::string> confirm_;
    std::map<std::string, Clock::time_point> hide_at_;
};

// A key as SSH names it.
struct SshKey {
    ssh::KeyType type = ssh::KeyType::kEd25519;
    Bytes blob;
};

// The SSH form of the agent's keys, computed once per key (by id, which names the public key)
// rather than per request. Bounded: cleared when full.
class SshKeyCache {
  public:
    static constexpr size_t kMaxEntries = 1024;
    // nullopt when SSH has no form for the key.
    std::optional<SshKey> of(const KeyRecord& key);

  private:
    std::mutex mutex_;
    std::unordered_map<std::string, std::optional<SshKey>> keys_;
};

// What every SSH connection shares.
struct SshShared {
    Broker& broker;
    SshOptions options;
    SshModuleSwitch modules;
    SshKeyCache keys;
};

// One connection's conversation.
class SshSession {
  public:
    SshSession(SshShared& shared, const ClientFacts& client) : shared_(shared), client_(client) {}

    // The response frame to one request.
    Bytes handle(ssh::Request& request);

  private:
    Bytes on(ssh::RequestIdentities&);
    Bytes on(ssh::SignRequest& r);
    Bytes on(ssh::AddIdentity&);
    Bytes on(ssh::RemoveIdentity&);
    Bytes on(ssh::RemoveAllIdentities&);
    Bytes on(ssh::AddSmartcardKey& r);
    Bytes on(ssh::RemoveSmartcardKey& r);
    Bytes on(ssh::Lock&);
    Bytes on(ssh::Unlock& r);
    Bytes on(ssh::ExtensionQuery&);
    Bytes on(ssh::SessionBind& r);
    Bytes on(ssh::Extension&);
    Bytes on(ssh::Unknown&);

    struct Usable {
        ListedKey listed;
        SshKey ssh;
    };
    // The keys ssh may use (served signing keys SSH has a form for), in token order, as the
    // broker lists them to this client (none when the policy refuses it).
    std::vector<Usable> usable_keys(const Context& context);
    // The key a SIGN_REQUEST names, found by its blob among the present tokens' keys (public
    // facts only: whether it may be used is the broker's to decide).
    std::optional<Usable> key_with_blob(const Bytes& blob);
    bool ssh_usable(const ListedKey& k);
    Context context() const;
    // `lifetime`: the keys shown are hidden again after that many seconds (ssh-add -t).
    Bytes switch_module(const char* op, const std::string& requested, bool hide,
                        std::optional<std::uint32_t> lifetime = std::nullopt);
    Bytes refuse(const char* what);

    SshShared& shared_;
    const ClientFacts& client_;
    ssh::ConnectionBinding binding_;  // the connection's verified session-binds
};

}  // namespace attache::agent
