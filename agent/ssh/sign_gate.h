#pragma once

// The facts of one SIGN_REQUEST on the SSH socket (agent/request/context.h SshFacts), from the
// connection's session-binds and the classified data, and the rules that refuse it until the
// policy (agent/policy) decides on those facts instead.

#include <optional>
#include <set>
#include <string>

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

// What the SSH socket signs until the policy takes over.
struct SignRules {
    std::set<std::string> sshsig_namespaces{"git", "file"};
    bool allow_forwarded = false;
};

// Why a sign with these facts is refused (a sentence for the log, saying what to do), or
// nothing when the rules allow it. Refused: any sign on a connection whose session-bind
// failed; data that is neither userauth nor SSHSIG; userauth on a bound connection for another
// session; SSHSIG of a namespace not in the rules; any sign over a forwarded connection unless
// the rules allow it.
std::optional<std::string> sign_refusal(const agent::SshFacts& facts, const SignRules& rules);

}  // namespace attache::ssh
