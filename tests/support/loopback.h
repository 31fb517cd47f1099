#pragma once

// Loopback ports for the tests' own servers (sshd, openssl s_server, ...).

namespace attache::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick).
int free_port();
// A port p on 127.0.0.1 with p + 1 free as well, a moment ago (swtpm's TCTI takes the TPM's
// port and finds the control channel on the next one); -1 if none was found.
int free_port_pair();

}  // namespace attache::testing
