#pragma once

// The facts of one SIGN_REQUEST on the SSH socket (agent/request/context.h SshFacts), from the
// connection's session-binds and the classified data. What is refused on those facts is
// agent/request/ssh_sign_rules.h (applied by the broker).

#include "agent/request/context.h"
#include "agent/ssh/connection_binding.h"
#include "agent/ssh/sign_payload.h"

namespace attache::ssh {

// session_id_matches is true for a userauth payload on a bound connection when its session id
// is the last bound one and, as OpenSSH's ssh-agent checks for destination-constrained keys,
// a hostbound request names the last bound host key, and a request on a connection with
// several binds (a forwarding chain) is hostbound.
agent::SshFacts sign_facts(const ConnectionBinding& binding, const SignPayload& payload,
                           bool confirm_constraint);

}  // namespace attache::ssh
