#pragma once

// Loopback ports for the tests' own servers (sshd, openssl s_server, ...).

namespace attache::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick).
int free_port();

}  // namespace attache::testing
