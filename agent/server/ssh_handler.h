#pragma once

// The OpenSSH agent protocol on a connection: frames in, the SSH front end
// (agent/frontend/ssh_frontend.h), frames out.

#include "agent/frontend/ssh_frontend.h"
#include "agent/server/connection_handler.h"

namespace attache::agent {

class SshHandler : public ConnectionHandler {
  public:
    SshHandler(Broker& broker, SshOptions options) : shared_{broker, std::move(options), {}, {}} {}
    void serve(int fd, const ClientFacts& client) override;

  private:
    SshShared shared_;
};

}  // namespace attache::agent
