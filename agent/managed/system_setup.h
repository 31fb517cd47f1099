#pragma once

// What makes `attache-agent --system` (managed mode) a broker the card's holder can trust
// against code running as the holder: configuration only from root's files, modules only from
// root's directories, an environment of the unit's (no LD_*, no user's OPENSC_CONF or p11-kit
// files), and its own system user (docs/threat-model.md, docs/admin-guide.md "Managed mode").

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "agent/config/config.h"
#include "pkcs11/result.h"

namespace attache::agent {

constexpr const char* kSystemConfigDir = "/etc/attache";
constexpr const char* kSystemSocketDir = "/run/attache";

// Reads <dir>/agent.toml alone (no user file) after checking that it, the directory and every
// file it names (policy, manifest and its signature, signer key, modules) are root's alone.
// Modules must be absolute paths. The broker never prompts itself (it has no display): PINs
// come with `attache unlock`.
Result<Config> load_system_config(const std::filesystem::path& dir);

// Refuses an environment that names libraries (LD_*): the dynamic loader already honoured it.
Status check_start_environment();

struct BrokerUser {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home;
};
Result<BrokerUser> find_broker_user(const std::string& name);

// Clears the environment but for systemd's own variables and the system bus address, then sets
// PATH, HOME (the broker user's) and the admin's module_environment.
void set_broker_environment(const Config& config, const BrokerUser& user);

// The directory of the sockets: root's, 0755 (made when started as root); sockets in it are
// 0666, for any local user: who may do what is the policy chain's.
Status prepare_system_socket_dir(const std::filesystem::path& dir);

// Started as root: becomes the broker's user (its groups, so the pcscd socket group applies),
// irrevocably. Started as the broker's user (systemd User=): nothing to do. Anyone else:
// refused. Not dumpable afterwards (a uid change resets it).
Status become_broker_user(const BrokerUser& user);

}  // namespace attache::agent
