#pragma once

// What the user is shown about a request, built only from facts the agent checked (the
// executable and its parents from /proc, the login session from logind, the key's label, the
// SSH destination verified through session-bind) — never from what a client wrote.

#include <string>

#include "agent/core/broker/chain.h"
#include "agent/core/user_prompt.h"

namespace attache::agent {

// "/usr/bin/ssh (pid 4242), started by /usr/bin/bash (pid 4200)"
std::string describe_requester(const ClientFacts& client);

// The PIN dialog's facts about who asks (PinPromptRequest::requester, remote_session).
PinPromptRequest pin_request_for(const Context& context);

// The confirmation dialog for one use of a key.
ConfirmRequest confirmation_for(const Chain& chain);

// The confirmation before a PIN is tried on a token with one try left.
ConfirmRequest final_try_confirmation(const Context& context, const Token& token);

}  // namespace attache::agent
