#pragma once

// Where a client (the CLI, attache-pkcs11.so) finds the agent, and whom it expects there.
//
// Personal mode: $ATTACHE_SOCK, else $XDG_RUNTIME_DIR/attache/agent.sock, served by the
// caller's own uid (or root).
// Managed mode: the machine's /etc/attache/managed.conf exists. The broker is the system user
// it names (default `attache`) at /run/attache/agent.sock; the client verifies the listener is
// that uid (or root: systemd's socket unit listens as root), and refuses an $ATTACHE_SOCK naming
// any other path, so a relay the caller's own uid set up never receives a PIN
// (docs/threat-model.md).

#include <sys/types.h>

#include <optional>
#include <string>

#include "pkcs11/result.h"

namespace attache::protocol {

constexpr const char* kManagedConf = "/etc/attache/managed.conf";

struct ManagedMode {
    std::string conf;                         // the file it was read from
    std::string socket_dir = "/run/attache";  // agent.sock and ssh.sock
    std::string broker_user = "attache";
    uid_t broker_uid = 0;
};

// The machine's managed mode, if any. /etc/attache/managed.conf decides; only when it does not
// exist may $ATTACHE_MANAGED_CONF name another file (tests and staging; it can only make a
// client stricter). The file and its directories must be root's alone; the user must exist.
Result<std::optional<ManagedMode>> managed_mode();

// Parses managed.conf's text: `key = value` lines (socket_dir, broker_user), '#' comments.
Result<ManagedMode> parse_managed_conf(const std::string& text, const std::string& origin);

struct AgentEndpoint {
    std::string path;
    // The uid that must listen there; nullopt: the caller's own (or root).
    std::optional<uid_t> server_uid;
    std::string server_name;  // how errors name the expected server
};

// The native socket for this process, by the rules above.
Result<AgentEndpoint> agent_endpoint();
// The SSH socket to give SSH_AUTH_SOCK in managed mode (nullopt: personal mode).
Result<std::optional<std::string>> managed_ssh_socket();

}  // namespace attache::protocol
