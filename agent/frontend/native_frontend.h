#pragma once

// The native protocol's front end: translates each request into a broker operation and the
// broker's answer into the protocol's reply. No policy, prompt or audit here: those are the
// broker's (agent/core/broker/). Socket handling is agent/server's.

#include <string>

#include "agent/core/broker/broker.h"
#include "agent/request/context.h"
#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/forwarding/identity.h"

namespace attache::agent {

struct AgentIdentity {
    std::string version = "attache-agent 0.1.0";
    std::string socket;
    std::string ssh_socket;
};

// One connection's state: the handshake, and which channel the client said it is (the
// forwarding module names itself in its hello; a hint for the policy, nothing more).
struct NativeConnection {
    bool hello_done = false;
    uint32_t version = protocol::kMinProtocolVersion;  // agreed in hello
    Channel channel = Channel::native;
};

class NativeFrontend {
  public:
    NativeFrontend(Broker& broker, AgentIdentity identity)
        : broker_(broker), identity_(std::move(identity)) {}

    protocol::Reply handle(protocol::Request& request, const ClientFacts& client,
                           NativeConnection& connection);

  private:
    protocol::Reply hello(const protocol::HelloRequest& r, NativeConnection& connection);
    protocol::Reply status(const Context& context);
    protocol::Reply random(const protocol::RandomRequest& r);

    Broker& broker_;
    AgentIdentity identity_;
};

// The protocol's error reply for an agent error.
protocol::ErrorReply error_reply(const Error& error, uint64_t token_flags = 0);
// The protocol's entry for a key record.
protocol::KeyEntry key_entry(const Token& token, const KeyRecord& key);
protocol::AuthorityCertificate authority_entry(const Token& token,
                                               const AuthorityRecord& certificate);

}  // namespace attache::agent
