#include "agent/core/agent_error.h"
#include "agent/core/broker/dialog_text.h"
#include "agent/core/broker/steps.h"

namespace attache::agent {

Status unlock_on_use(Chain& chain, UserPrompt* prompt, bool prompt_on_use) {
    Token& token = *chain.match.token;
    if (!prompt || !prompt_on_use || token.unlocked() || !token.present())
        return ok();  // the token itself reports the lock
    PinPromptRequest request = pin_request_for(chain.context);
    ATTACHE_CHECK(token.unlock_interactive(*prompt, request));
    // The unlock read the keys again: the record with the private key replaces the one
    // listed while locked.
    for (const auto& key : token.keys()) {
        if (key->id == chain.match.key->id) {
            chain.match.key = key;
            return ok();
        }
    }
    return agent_error(ErrorCode::unknown_key, "token " + token.display_name() +
                                                   " no longer shows key " + chain.match.key->id);
}

}  // namespace attache::agent
