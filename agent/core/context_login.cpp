#include "agent/core/context_login.h"

#include "agent/core/agent_error.h"

namespace attache::agent {
namespace {

Status pin_blocked(const p11::TokenInfo& token) {
    return agent_error(ErrorCode::pin_locked,
                       "the PIN of token '" + token.label +
                           "' is blocked; an admin must unblock it with `attache pin unblock`");
}

// The PIN the client sent with the request. The unlock rules hold: no C_Login on a blocked
// PIN, and a client's PIN never spends the last try (only the user may, in the agent's own
// dialog: the same operation without a PIN asks there).
Status login_with_client_pin(p11::Session& session, const p11::TokenInfo& token, const Secret& pin,
                             const std::string& what) {
    if (token.user_pin_locked())
        return pin_blocked(token);
    if (token.user_pin_final_try()) {
        return agent_error(ErrorCode::final_try,
                           "token '" + token.label +
                               "' has one PIN try left: an application's PIN does not spend it; "
                               "unlock with `attache unlock --confirm-final-try`");
    }
    Status login = session.login(CKU_CONTEXT_SPECIFIC, &pin);
    if (!login)
        return std::move(login).error().context("the PIN for " + what);
    return ok();
}

}  // namespace

p11::ContextLogin context_login(p11::Session& session, const KeyRecord& key,
                                const p11::TokenInfo& token, const OperationPrompt& prompt,
                                const std::string& operation) {
    if (!key.always_authenticate)
        return {};
    return [&session, &key, &token, &prompt, operation]() -> Status {
        const std::string what = operation + " with key '" + key.label + "'";
        if (prompt.pin != nullptr)
            return login_with_client_pin(session, token, *prompt.pin, what);
        if (prompt.prompter == nullptr) {
            return agent_error(ErrorCode::token_locked,
                               "key '" + key.label +
                                   "' needs its PIN for every use and the agent "
                                   "has no pinentry to ask it: set `pinentry` "
                                   "in the agent's configuration");
        }
        if (token.user_pin_locked())
            return pin_blocked(token);
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
