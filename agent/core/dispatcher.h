#pragma once

// The agent's answer to each native-protocol request: a function from a request (and who
// sent it) to a reply. Socket handling lives in agent/server; this is the part tests and the
// SSH front end share.

#include <string>

#include "agent/core/token_manager.h"
#include "agent/request/context.h"
#include "pkcs11/agent_protocol/messages.h"

namespace attache::agent {

struct AgentIdentity {
    std::string version = "attache-agent 0.1.0";
    std::string socket;
    std::string ssh_socket;
};

class Dispatcher {
  public:
    Dispatcher(TokenManager& tokens, AgentIdentity identity)
        : tokens_(tokens), identity_(std::move(identity)) {}

    // `hello_done` tracks the handshake of the connection: every other request before it is
    // refused.
    protocol::Reply handle(protocol::Request& request, const ClientFacts& client, bool& hello_done);

    // Turns an agent error into the protocol's error reply.
    static protocol::ErrorReply error_reply(const Error& error, uint64_t token_flags = 0);

  private:
    protocol::Reply status();
    protocol::Reply list_keys();
    protocol::Reply sign(const protocol::SignRequest& r, const ClientFacts& client);
    protocol::Reply decrypt(const protocol::DecryptRequest& r, const ClientFacts& client);
    protocol::Reply derive(const protocol::DeriveRequest& r, const ClientFacts& client);
    protocol::Reply unlock(protocol::UnlockRequest& r, const ClientFacts& client);
    protocol::Reply lock(const protocol::LockRequest& r, const ClientFacts& client);
    protocol::Reply random(const protocol::RandomRequest& r);

    TokenManager& tokens_;
    AgentIdentity identity_;
};

// Protocol entry for a key record.
protocol::KeyEntry key_entry(const Token& token, const KeyRecord& key);

}  // namespace attache::agent
