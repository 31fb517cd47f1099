#include "agent/ssh/sign_gate.h"

#include "agent/ssh/keys.h"

namespace attache::ssh {
namespace {

using Payload = agent::SshFacts::Payload;

bool userauth_matches(const ConnectionBinding& binding, const UserauthPayload& u) {
    const Binding* last = binding.last();
    if (last == nullptr || u.session_id != last->session_id)
        return false;
    if (u.hostbound)
        return u.hostkey == last->hostkey;
    return binding.bindings().size() == 1;
}

}  // namespace

agent::SshFacts sign_facts(const ConnectionBinding& binding, const SignPayload& payload,
                           bool confirm_constraint) {
    agent::SshFacts facts;
    facts.bound = binding.bound();
    facts.bind_failed = binding.failed();
    facts.forwarded = binding.forwarded();
    facts.destination = binding.destination();
    facts.confirm_constraint = confirm_constraint;
    if (const auto* u = std::get_if<UserauthPayload>(&payload)) {
        facts.payload = Payload::userauth;
        facts.session_id_matches = userauth_matches(binding, *u);
    } else if (const auto* s = std::get_if<SshsigPayload>(&payload)) {
        facts.payload = Payload::sshsig;
        facts.sshsig_namespace = s->name_space;
    } else {
        facts.payload = Payload::other;
    }
    return facts;
}

std::optional<std::string> sign_refusal(const agent::SshFacts& facts, const SignRules& rules) {
    if (facts.bind_failed) {
        return std::string(
            "a session-bind on this connection failed to verify, so nothing is signed on it "
            "(a client or host that lies about the session; reconnect)");
    }
    if (facts.forwarded && !rules.allow_forwarded) {
        return "the agent is used through a forwarded connection (ssh -A) via " +
               facts.destination +
               "; signing for a remote host is refused (run ssh, git or ssh-keygen on this "
               "machine)";
    }
    switch (facts.payload) {
        case Payload::other:
            return std::string(
                "the data is neither an SSH login (userauth request) nor an SSHSIG blob "
                "(ssh-keygen -Y sign); Attache's SSH socket signs nothing else (an X.509 "
                "certificate or a document is signed with the attache CLI)");
        case Payload::userauth:
            if (facts.bound && !facts.session_id_matches) {
                return "the login request is for another session than the one bound to " +
                       facts.destination + " on this connection";
            }
            return std::nullopt;
        case Payload::sshsig:
            if (rules.sshsig_namespaces.count(facts.sshsig_namespace) == 0) {
                std::string allowed;
                for (const std::string& n : rules.sshsig_namespaces)
                    allowed += (allowed.empty() ? "" : ", ") + n;
                return "ssh-keygen -Y sign with namespace \"" + facts.sshsig_namespace +
                       "\" is not allowed (allowed: " + allowed + ")";
            }
            return std::nullopt;
    }
    return std::string("unknown payload");
}

}  // namespace attache::ssh
