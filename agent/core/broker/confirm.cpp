#include "agent/core/agent_error.h"
#include "agent/core/broker/dialog_text.h"
#include "agent/core/broker/steps.h"

namespace attache::agent {

Status confirm_use(Chain& chain, UserPrompt* prompt, RememberedUses& remembered) {
    const bool by_policy = chain.decision.verdict == Verdict::confirm;
    const bool by_constraint =
        chain.context.channel == Channel::ssh && chain.context.ssh.confirm_constraint;
    if (!by_policy && !by_constraint)
        return ok();
    const ClientFacts& client = chain.context.client;
    const RememberedUses::Use use{client.exe, client.uid, client.session_id,
                                  chain.match.key ? chain.match.key->id : chain.reference};
    // `ssh-add -c` means every use; a policy rule may allow remembering.
    if (!by_constraint && remembered.recall(use)) {
        chain.confirmation = "remembered";
        return ok();
    }
    if (!prompt) {
        chain.confirmation = "unavailable";
        return agent_error(ErrorCode::refused_by_policy,
                           "this use needs your confirmation (" + chain.decision.rule +
                               ") and the agent has no dialog to ask it (pinentry)");
    }
    PromptCancel cancel;
    auto answer = prompt->confirm(confirmation_for(chain), cancel);
    if (!answer) {
        chain.confirmation = "unavailable";
        return std::move(answer).error().context("asking for confirmation");
    }
    switch (*answer) {
        case ConfirmAnswer::allowed:
            chain.confirmation = "confirmed";
            if (!by_constraint)
                remembered.remember(use, std::min(chain.decision.remember, kMaxRemember));
            return ok();
        case ConfirmAnswer::denied:
            chain.confirmation = "denied";
            return agent_error(ErrorCode::cancelled, "you declined this use of the key");
        case ConfirmAnswer::timed_out:
            chain.confirmation = "timed-out";
            return agent_error(ErrorCode::cancelled,
                               "nobody confirmed this use of the key in time");
    }
    return agent_error(ErrorCode::internal, "unknown confirmation answer");
}

}  // namespace attache::agent
