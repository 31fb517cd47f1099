#pragma once

// What the helper does to itself before it loads a vendor module: not dumpable (no ptrace by
// other processes of the user, no /proc/PID/mem), no core files, SIGKILLed when the agent dies,
// stdin and stdout on /dev/null, every file descriptor but stderr and the agent's socket
// closed, SIGPIPE ignored (a write to a gone agent fails instead).

namespace attache::p11::module_helper {

// False (with errno set) when something that must hold could not be made to hold.
bool harden_helper(int socket_fd);

}  // namespace attache::p11::module_helper
