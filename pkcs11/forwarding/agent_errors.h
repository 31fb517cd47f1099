#pragma once

// From the agent's replies to the CK_RV an application gets. Transport failures (no agent,
// a broken connection, a reply that does not decode) are CKR_DEVICE_ERROR; a reply that
// belongs to another agent than the session's is CKR_SESSION_HANDLE_INVALID.

#include <p11-kit/pkcs11.h>

#include <string>

#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/result.h"

namespace attache::forwarding {

// Error codes of the connection pool (Error::code()).
enum TransportCode : int {
    kAgentUnreachable = 1001,  // nothing listens on the socket (the agent is not running)
    kAgentBroken = 1002,       // the connection failed or the reply was malformed
    kAgentReplaced = 1003,     // another agent answers now: the session is stale
};

// What an error means for the module's own state besides the CK_RV.
enum class Effect {
    none,
    token_locked,  // the application's login view of the token ends
    token_absent,  // the card went away
};

struct Outcome {
    CK_RV rv = CKR_OK;
    Effect effect = Effect::none;
    std::string message;  // for the debug log
};

enum class Call { operation, login, slot };

// An ErrorReply from the agent.
Outcome outcome_of(const protocol::ErrorReply& error, Call call);
// A failed Result<Reply> (the pool's Error).
Outcome outcome_of(const Error& error);
// A reply of the wrong type.
Outcome unexpected_reply(const protocol::Reply& reply);

}  // namespace attache::forwarding
