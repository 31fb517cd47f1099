#include "agent/core/agent_error.h"
#include "agent/core/broker/steps.h"
#include "agent/request/ssh_sign_rules.h"

namespace attache::agent {

Status check_channel(const Chain& chain, const Policy& policy) {
    if (chain.context.channel != Channel::ssh)
        return ok();
    if (chain.kind != OperationKind::sign)
        return agent_error(ErrorCode::refused_by_policy, "the SSH agent socket only signs");
    SshSignRules rules;
    rules.namespace_allowed = [&policy](std::string_view n) {
        return policy.sshsig_namespace_allowed(n);
    };
    rules.allow_forwarded = true;  // the policy's rules decide on forwarded use
    if (auto why = ssh_sign_refusal(chain.context.ssh, rules))
        return agent_error(ErrorCode::refused_by_policy, *why);
    return ok();
}

}  // namespace attache::agent
