#include "agent/core/agent_error.h"
#include "agent/core/broker/steps.h"

namespace attache::agent {

Status resolve_key(Chain& chain, const TokenManager& tokens) {
    ATTACHE_TRY(chain.match, tokens.find_key(chain.reference));
    return ok();
}

Status resolve_token(Chain& chain, const TokenManager& tokens, CardHolders* holders) {
    if (holders == nullptr || !chain.reference.empty()) {
        ATTACHE_TRY(chain.token, tokens.find_token(chain.reference));
        return ok();
    }
    // Managed mode, no token named: the client's own card, if it has exactly one here.
    std::vector<std::shared_ptr<Token>> own;
    for (const auto& t : tokens.tokens()) {
        if (t->present() && holders->check_card(*t, chain.context.client.user).served)
            own.push_back(t);
    }
    if (own.empty())
        return agent_error(ErrorCode::unknown_token,
                           "none of the cards present is yours (by the card manifest); insert "
                           "your card");
    if (own.size() > 1)
        return agent_error(
            ErrorCode::ambiguous_token,
            std::to_string(own.size()) + " of your cards are present; name one with --token");
    chain.token = own.front();
    return ok();
}

}  // namespace attache::agent
