#include "agent/core/agent_error.h"
#include "agent/core/broker/steps.h"

namespace attache::agent {

Status apply_client_policy(Chain& chain, const Policy& policy) {
    PolicyKey key;
    if (chain.match.key) {
        key.id = chain.match.key->id;
        key.uri = chain.match.key->uri;
        key.label = chain.match.key->label;
    }
    if (chain.match.token)
        key.token_serial = chain.match.token->serial();
    else if (chain.token)
        key.token_serial = chain.token->serial();
    chain.decision = policy.decide(PolicyQuery{chain.context, chain.kind, std::move(key)});
    if (chain.decision.verdict == Verdict::deny) {
        std::string why = "refused by " + chain.decision.rule;
        const Context& c = chain.context;
        if (c.channel == Channel::ssh && c.ssh.forwarded) {
            why += ": a use over a forwarded connection (ssh -A) via " + c.ssh.destination +
                   " (run ssh, git or ssh-keygen on this machine)";
        } else if (c.client.session == SessionKind::remote) {
            why += ": the request comes from a remote login session";
        }
        return agent_error(ErrorCode::refused_by_policy, why);
    }
    return ok();
}

}  // namespace attache::agent
