#include "agent/core/agent_error.h"
#include "agent/core/broker/steps.h"

namespace attache::agent {
namespace {

Error refuse(const std::string& why) {
    return agent_error(ErrorCode::refused_by_policy, why);
}

}  // namespace

Status check_channel(const Chain& chain, const Policy& policy) {
    if (chain.context.channel != Channel::ssh)
        return ok();
    if (chain.kind != OperationKind::sign)
        return refuse("the SSH agent socket only signs");
    const SshFacts& ssh = chain.context.ssh;
    if (ssh.bind_failed) {
        return refuse(
            "a session-bind on this connection did not verify: nothing is signed on it");
    }
    switch (ssh.payload) {
        case SshFacts::Payload::userauth:
            if (ssh.bound && !ssh.session_id_matches) {
                return refuse(
                    "the login request is for another SSH session than the one this connection "
                    "is bound to");
            }
            return ok();
        case SshFacts::Payload::sshsig:
            if (!policy.sshsig_namespace_allowed(ssh.sshsig_namespace)) {
                return refuse("SSHSIG namespace '" + ssh.sshsig_namespace +
                              "' is not allowed by the policy (ssh.sshsig_namespaces)");
            }
            return ok();
        case SshFacts::Payload::other:
            break;
    }
    return refuse(
        "the SSH agent socket signs only SSH logins and SSHSIG signatures, not other data "
        "(use the agent's own socket, where the policy decides)");
}

}  // namespace attache::agent
