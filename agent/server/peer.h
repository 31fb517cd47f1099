#pragma once

#include "agent/request/context.h"
#include "pkcs11/result.h"

namespace attache::agent {

// The peer of a connected Unix socket: SO_PEERCRED, and /proc/PID/exe for logs.
Result<ClientFacts> peer_of(int fd);

}  // namespace attache::agent
