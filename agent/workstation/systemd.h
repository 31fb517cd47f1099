#pragma once

// The agent as a systemd user service: sockets passed by attache-agent.socket (socket
// activation) and readiness notification (Type=notify). Both are no-ops when the agent is
// started by hand.

#include <string>
#include <vector>

#include "pkcs11/result.h"

namespace attache::agent {

struct InheritedSocket {
    int fd = -1;
    std::string path;  // the address it listens on
    std::string name;  // FileDescriptorName= of the socket unit
};

// The listening sockets systemd passed ($LISTEN_FDS for this pid), each checked to be a
// listening AF_UNIX stream socket bound to a path. Consumes the LISTEN_* variables so that
// children (pinentry) do not see them. Empty when the agent was not socket-activated.
Result<std::vector<InheritedSocket>> inherited_sockets();

// True when a service manager waits for our readiness ($NOTIFY_SOCKET).
bool notify_expected();
// READY=1 with a status line: the sockets are served.
void notify_ready(const std::string& status);
// STOPPING=1: shutting down.
void notify_stopping();

}  // namespace attache::agent
