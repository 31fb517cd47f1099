#pragma once

// A connected AF_UNIX stream socketpair for tests of code that reads or writes a socket: what
// is written to `writer` arrives at `reader` (and the other way round).

#include "pkcs11/agent_protocol/unique_fd.h"

namespace attache::testing {

struct SocketPair {
    UniqueFd reader;
    UniqueFd writer;
};

// Throws std::system_error (which fails the test) when the kernel refuses.
SocketPair socket_pair();

}  // namespace attache::testing
