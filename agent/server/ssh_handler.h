#pragma once

// The OpenSSH agent protocol on a connection (draft-miller-ssh-agent, OpenSSH PROTOCOL.agent):
// the card's keys for ssh, ssh-add, ssh-keygen -Y and git, through the same tokens, policy and
// audit as the native protocol. Keys cannot be added: Attache holds only card keys.
//
// ssh-add -s MODULE is where OpenSSH had remote code execution (CVE-2016-10009,
// CVE-2023-38408): loading a library runs its code. It is refused unless the module, after
// realpath(), is on the admin's allowlist (ssh_add_allowed_modules in /etc/attache/agent.toml).

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/core/token_manager.h"
#include "agent/server/connection_handler.h"

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
    // Clears a lifetime given before.
    void set_hidden(const std::string& canonical_path, bool hidden);
    // Shows the module's keys now and hides them again after `lifetime`.
    void show_for(const std::string& canonical_path, Clock::duration lifetime);

  private:
    mutable std::mutex mutex_;
    std::set<std::string> hidden_;
    std::map<std::string, Clock::time_point> hide_at_;
};

class SshHandler : public ConnectionHandler {
  public:
    SshHandler(TokenManager& tokens, SshOptions options)
        : tokens_(tokens), options_(std::move(options)) {}
    void serve(int fd, const ClientFacts& client) override;

  private:
    TokenManager& tokens_;
    SshOptions options_;
    SshModuleSwitch modules_;
};

}  // namespace attache::agent
