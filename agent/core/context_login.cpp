#include "agent/core/context_login.h"

#include "agent/core/agent_error.h"

namespace attache::agent {

p11::ContextLogin context_login(p11::Session& session, const KeyRecord& key,
                                const p11::TokenInfo& token, const OperationPrompt& prompt,
                                const std::string& operation) {
    if (!key.always_authenticate)
        return {};
    return [&session, &key, &token, &prompt, operation]() -> Status {
        const std::string what = operation + " with key '" + key.label + "'";
        if (prompt.prompter == nullptr) {
            return agent_error(ErrorCode::token_locked,
                               "key '" + key.label +
                                   "' needs its PIN for every use and the agent "
                                   "has no pinentry to ask it: set `pinentry` "
                                   "in the agent's configuration");
        }
        if (token.user_pin_locked()) {
            return agent_error(ErrorCode::pin_locked,
                               "the PIN of token '" + token.label +
                                   "' is blocked; an admin must unblock it with `attache pin "
                                   "unblock`");
        }
        if (token.protected_authentication_path()) {
            // The PIN goes on the reader's PIN pad.
            Status login = session.login(CKU_CONTEXT_SPECIFIC, nullptr);
            if (!login)
                return std::move(login).error().context("the PIN for " + what);
            return ok();
        }
        PinPromptRequest request;
        request.token_label = token.label;
        request.token_serial = token.serial;
        request.flags = token.flags;
        request.requester = prompt.requester;
        request.context_specific = true;
        request.operation = what;
        PromptCancel cancel;
        cancel.arm();
        ATTACHE_TRY(PinPromptAnswer answer, prompt.prompter->ask_pin(request, cancel));
        if (token.user_pin_final_try() && !answer.final_try_confirmed) {
            return agent_error(ErrorCode::final_try,
                               "token '" + token.label + "' has one PIN try left, not confirmed");
        }
        Status login = session.login(CKU_CONTEXT_SPECIFIC, &answer.pin);
        if (!login)
            return std::move(login).error().context("the PIN for " + what);
        return ok();
    };
}

}  // namespace attache::agent
