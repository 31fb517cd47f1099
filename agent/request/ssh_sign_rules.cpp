#include "agent/request/ssh_sign_rules.h"

namespace attache::agent {

std::optional<std::string> ssh_sign_refusal(const SshFacts& facts, const SshSignRules& rules) {
    using Payload = SshFacts::Payload;
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
                "certificate or a document is signed through the agent's own socket, where the "
                "policy decides)");
        case Payload::userauth:
            if (facts.bound && !facts.session_id_matches) {
                return "the login request is for another session than the one bound to " +
                       facts.destination + " on this connection";
            }
            return std::nullopt;
        case Payload::sshsig:
            if (!rules.namespace_allowed || !rules.namespace_allowed(facts.sshsig_namespace)) {
                return "ssh-keygen -Y sign with namespace \"" + facts.sshsig_namespace +
                       "\" is not allowed by the policy (ssh.sshsig_namespaces)";
            }
            return std::nullopt;
    }
    return std::string("unknown payload");
}

}  // namespace attache::agent
