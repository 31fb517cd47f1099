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
    // `audit_reader`: where `attache log` reads the caller's records (managed mode); null: the
    // agent keeps no audit of its own to read back (personal mode).
    NativeFrontend(Broker& broker, AgentIdentity identity, UserAuditReader* audit_reader = nullptr)
        : broker_(broker), identity_(std::move(identity)), audit_reader_(audit_reader) {}

    protocol::Reply handle(protocol::Request& request, const ClientFacts& client,
                           NativeConnection& connection);

  private:
    protocol::Reply hello(const protocol::HelloRequest& r, NativeConnection& connection);
    protocol::Reply status(const Context& context);
    protocol::Reply random(const protocol::RandomRequest& r);
    protocol::Reply audit_log(const protocol::AuditLogRequest& r, const ClientFacts& client);

    Broker& broker_;
    AgentIdentity identity_;
    UserAuditReader* audit_reader_;
};

// The protocol's error reply for an agent error.
protocol::ErrorReply error_reply(const Error& error, uint64_t token_flags = 0);
// The protocol's entry for a key record.
protocol::KeyEntry key_entry(const Token& token, const KeyRecord& key);
protocol::AuthorityCertificate authority_entry(const Token& token,
                                               const AuthorityRecord& certificate);

}  // namespace attache::agent
