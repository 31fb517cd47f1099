#pragma once

#include "agent/request/context.h"

namespace attache::agent {

// Serves one accepted connection until the peer closes it or the server stops (the server
// shuts the socket down for reading; the handler then finishes its current request and
// returns). Runs on the connection's own thread.
class ConnectionHandler {
  public:
    virtual ~ConnectionHandler() = default;
    virtual void serve(int fd, const ClientFacts& client) = 0;
};

}  // namespace attache::agent
