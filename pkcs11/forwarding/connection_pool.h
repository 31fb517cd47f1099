#pragma once

// Connections to attache-agent: one protocol::Client per concurrently busy thread, so that
// threads sign in parallel (the agent serves each connection on its own thread). Idle
// connections are kept for reuse; one found closed by the agent is replaced.
//
// Each new connection asks the agent for its status: a different agent pid than before means
// the agent was restarted, and the pool's epoch moves on. Sessions remember the epoch they
// were opened in, and a request for a session of an older epoch is never sent.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pkcs11/agent_protocol/client.h"
#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/result.h"

namespace attache::forwarding {

class ConnectionPool {
  public:
    explicit ConnectionPool(protocol::AgentEndpoint endpoint);
    ~ConnectionPool();
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    // Sends one request and returns the agent's reply (an ErrorReply is a reply). Errors carry
    // a TransportCode. `epoch`: 0, or the epoch the request belongs to (kAgentReplaced when
    // another agent answers now). `may_retry`: the request may be sent again on a fresh
    // connection when a kept connection turns out to be broken (never for an unlock).
    Result<protocol::Reply> call(const protocol::Request& request, uint64_t epoch = 0,
                                 bool may_retry = true);

    // The current agent epoch (moves on when a restarted agent is found).
    uint64_t epoch() const;
    const std::string& socket_path() const { return endpoint_.path; }

  private:
    struct Connection;
    Result<std::unique_ptr<Connection>> acquire(bool& reused);
    Result<std::unique_ptr<Connection>> connect_new();
    void release(std::unique_ptr<Connection> c, bool keep);

    const protocol::AgentEndpoint endpoint_;
    const std::string client_name_;

    mutable std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<Connection>> idle_;
    size_t open_ = 0;
    uint64_t epoch_ = 1;
    uint32_t agent_pid_ = 0;
};

}  // namespace attache::forwarding
