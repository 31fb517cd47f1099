#include "agent/core/agent_error.h"
#include "agent/core/broker/steps.h"
#include "agent/core/log.h"

namespace attache::agent {
namespace {

// A card the manifest serves to no one is locked as soon as a request names it, so a card
// marked lost stops working at once, not at the next idle lock.
Status refuse(Token& token, const CardVerdict& verdict) {
    if (verdict.lock_now && token.unlocked() && token.lock("not served by the card manifest"))
        log_info("locked " + token.display_name() + ": not served by the card manifest (" +
                 verdict.reason + ")");
    return agent_error(ErrorCode::refused_by_policy, verdict.reason);
}

}  // namespace

Status check_holder(Chain& chain, CardHolders* holders) {
    if (holders == nullptr)
        return ok();
    // ssh-add -X sends the PIN to whatever SSH_AUTH_SOCK names, and ssh-add cannot check who
    // listens there: a relay of the user's own would read it. The CLI checks the broker.
    if (chain.kind == OperationKind::unlock && chain.context.channel == Channel::ssh)
        return agent_error(ErrorCode::refused_by_policy,
                           "in managed mode the card is unlocked with `attache unlock`, not "
                           "`ssh-add -X` (ssh-add cannot check that it talks to the broker)");
    Token& token = chain.match.token ? *chain.match.token : *chain.token;
    const CardVerdict verdict = holders->check_card(token, chain.context.client.user);
    if (!verdict.served)
        return refuse(token, verdict);
    if (chain.match.key && !holders->lists_key(token, *chain.match.key))
        return agent_error(ErrorCode::refused_by_policy,
                           "the key " + chain.match.key->id + " on the card " +
                               token.display_name() +
                               " is not one the card manifest lists for it; the card is refused "
                               "until an administrator enrols it again");
    return ok();
}

Status check_before_pin(Chain& chain, CardHolders* holders) {
    if (holders == nullptr)
        return ok();
    Token& token = chain.match.token ? *chain.match.token : *chain.token;
    if (token.unlocked() || !token.present())
        return ok();
    if (Status s = holders->check_before_pin(token); !s)
        return agent_error(ErrorCode::refused_by_policy, s.error().message());
    return ok();
}

}  // namespace attache::agent
