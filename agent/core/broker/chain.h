#pragma once

// The state one request carries along the broker's chain. Each step (steps.h) reads what the
// steps before it established and may stop the chain by returning an error: its code and
// message reach the client, and the audit record names the step.

#include <memory>
#include <string>

#include "agent/core/broker/audit_sink.h"
#include "agent/core/token_manager.h"
#include "agent/policy/policy.h"
#include "agent/request/context.h"

namespace attache::agent {

struct Chain {
    Chain(const Context& c, OperationKind k, std::string ref)
        : context(c), kind(k), reference(std::move(ref)) {}

    const Context& context;
    const OperationKind kind;
    const std::string reference;  // the key or token as the client named it

    KeyMatch match;                // resolve_key: the key and its token
    std::shared_ptr<Token> token;  // resolve_token (unlock): the token
    Decision decision;             // apply_client_policy
    std::string confirmation;      // confirm_use: how the user answered, for the audit
};

}  // namespace attache::agent
