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
        return agent_error(ErrorCode::refused_by_policy, "refused by " + chain.decision.rule);
    }
    return ok();
}

}  // namespace attache::agent
