#pragma once

// `attache-agent -k`: stops the agent serving a socket, as `ssh-agent -k` does.
//
// The agent's pid comes from the socket itself (SO_PEERCRED of a connection; the status reply
// must name the same pid), and the process must be the caller's own (real uid) and be
// attache-agent (/proc/PID/comm). A socket systemd passed is refused: the listener is systemd
// there, and it would start the agent again. The agent gets SIGTERM through a pidfd (no
// other process can have taken the pid by then), and the call returns once it has exited and
// its socket is gone.

#include <sys/types.h>

#include <string>

#include "pkcs11/result.h"

namespace attache::agent {

struct StoppedAgent {
    pid_t pid = 0;
    std::string ssh_socket;  // the SSH socket it served; empty: none
};

Result<StoppedAgent> stop_agent(const std::string& socket);

}  // namespace attache::agent
