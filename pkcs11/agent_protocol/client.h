#pragma once

// A blocking client of attache-agent's native protocol, for the CLI, tests and the forwarding
// module. One request at a time per Client.

#include <string>
#include <string_view>

#include "pkcs11/agent_protocol/agent_endpoint.h"
#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/result.h"
#include "pkcs11/stream/reply_wait.h"

namespace attache::protocol {

// $ATTACHE_SOCK, else $XDG_RUNTIME_DIR/attache/agent.sock, else /run/user/UID/attache/agent.sock.
std::string default_socket_path();

class Client {
  public:
    // Connects and performs the version handshake. The error message says how to start the
    // agent when nothing listens on `path`.
    // The listener must be the endpoint's server uid (managed mode: the broker's user), or
    // the caller's own uid (or root) when it names none.
    static Result<Client> connect(const AgentEndpoint& endpoint, std::string_view client_name);
    // A personal agent at `path` (tests, `attache-agent -k --socket`).
    static Result<Client> connect(const std::string& path, std::string_view client_name);

    // Sends one request and returns the agent's reply; an ErrorReply from the agent is a
    // successful call (inspect the variant). Error: the connection failed or the reply was
    // malformed; the Client is then unusable.
    Result<Reply> call(const Request& request);

    const std::string& agent_version() const { return agent_version_; }
    // The protocol version both sides speak (hello): 1 or 2.
    uint32_t protocol_version() const { return version_; }
    int fd() const { return fd_.get(); }

  private:
    explicit Client(UniqueFd fd) : fd_(std::move(fd)) {}

    UniqueFd fd_;
    uint32_t next_id_ = 1;
    stream::LatencyHistory latencies_;  // when each kind of reply is due (reply_wait.h)
    std::string agent_version_;
    uint32_t version_ = kMinProtocolVersion;  // hello is the same in every version
};

}  // namespace attache::protocol
