#include "agent/core/broker/broker.h"

#include "agent/core/agent_error.h"
#include "agent/core/broker/dialog_text.h"
#include "agent/core/log.h"

namespace attache::agent {
namespace {

// The token's flags travel with PIN errors, so clients can say how many tries are left.
uint64_t flags_for(const Token* token, const Error& error) {
    if (!token)
        return 0;
    switch (error_code_of(error)) {
        case ErrorCode::pin_incorrect:
        case ErrorCode::pin_locked:
        case ErrorCode::final_try:
            return token->info().flags;
        default:
            return 0;
    }
}

const std::string& key_reference(const Operation& operation) {
    static const std::string none;
    if (auto* s = std::get_if<SignOperation>(&operation))
        return s->key;
    if (auto* d = std::get_if<DecryptOperation>(&operation))
        return d->key;
    if (auto* e = std::get_if<DeriveOperation>(&operation))
        return e->key;
    return none;
}

void forget_context_pin(Operation& operation) {
    if (auto* s = std::get_if<SignOperation>(&operation))
        s->context_pin.reset();
    if (auto* d = std::get_if<DecryptOperation>(&operation))
        d->context_pin.reset();
}

// Runs the steps in order; the name of the one that stopped the chain lands in `stopped_by`.
struct StepRunner {
    std::string stopped_by;
    std::optional<Error> error;

    template <typename Fn>
    bool run(const char* name, Fn&& step) {
        if (error)
            return false;
        Status s = step();
        if (!s) {
            stopped_by = name;
            error = std::move(s).error();
            return false;
        }
        return true;
    }
};

}  // namespace

OperationKind kind_of(const Operation& operation) {
    return std::visit(
        [](const auto& op) {
            using T = std::decay_t<decltype(op)>;
            if constexpr (std::is_same_v<T, SignOperation>)
                return OperationKind::sign;
            if constexpr (std::is_same_v<T, DecryptOperation>)
                return OperationKind::decrypt;
            if constexpr (std::is_same_v<T, DeriveOperation>)
                return OperationKind::derive;
            if constexpr (std::is_same_v<T, UnlockOperation>)
                return OperationKind::unlock;
            if constexpr (std::is_same_v<T, LockOperation>)
                return OperationKind::lock;
            return OperationKind::list;
        },
        operation);
}

Broker::Broker(BrokerParts parts) : parts_(std::move(parts)) {
    if (!parts_.policy)
        parts_.policy = std::make_shared<const Policy>(Policy::builtin_default());
}

Performed Broker::perform(Operation operation, const Context& context) {
    switch (kind_of(operation)) {
        case OperationKind::sign:
        case OperationKind::decrypt:
        case OperationKind::derive:
            return key_operation(operation, context);
        case OperationKind::unlock:
            return unlock(std::get<UnlockOperation>(operation), context);
        case OperationKind::lock:
            return lock(std::get<LockOperation>(operation), context);
        case OperationKind::list:
            return list(context);
    }
    return {agent_error(ErrorCode::internal, "unknown operation"), 0};
}

Performed Broker::key_operation(Operation& operation, const Context& context) {
    Chain chain(context, kind_of(operation), key_reference(operation));
    const Policy& policy = *parts_.policy;
    StepRunner steps;
    steps.run("resolve-key", [&] { return resolve_key(chain, parts_.tokens); }) &&
        steps.run("holder", [&] { return check_holder(chain, parts_.holders.get()); }) &&
        steps.run("key-policy", [&] { return check_key_policy(chain); }) &&
        steps.run("channel", [&] { return check_channel(chain, policy); }) &&
        steps.run("client-policy", [&] { return apply_client_policy(chain, policy); }) &&
        steps.run("session",
                  [&] {
                      // Only where the user is about to be asked on the client's behalf.
                      const bool asks =
                          chain.decision.verdict == Verdict::confirm ||
                          (context.channel == Channel::ssh && context.ssh.confirm_constraint) ||
                          (parts_.prompt && !chain.match.token->unlocked());
                      return asks ? check_session(chain, parts_.start_time_of) : ok();
                  }) &&
        steps.run("confirm",
                  [&] { return confirm_use(chain, parts_.prompt.get(), remembered_); }) &&
        steps.run("card-auth",
                  [&] {
                      // Only where unlock_on_use would ask for the PIN.
                      return parts_.prompt && parts_.prompt_on_use
                                 ? check_before_pin(chain, parts_.holders.get())
                                 : ok();
                  }) &&
        steps.run("unlock",
                  [&] { return unlock_on_use(chain, parts_.prompt.get(), parts_.prompt_on_use); });
    Performed performed;
    if (steps.error) {
        performed.result = std::move(*steps.error);
    } else {
        Token& token = *chain.match.token;
        const KeyRecord& key = *chain.match.key;
        // A CKA_ALWAYS_AUTHENTICATE key takes the PIN the client sent for this one operation,
        // or asks it in the dialog.
        OperationPrompt per_use{parts_.prompt.get(), describe_requester(context.client)};
        // Waiting for one of the token's sessions, clients take turns (session_pool.h).
        const PoolClient client = client_key(context.client);
        Result<Bytes> bytes = std::visit(
            [&](auto& op) -> Result<Bytes> {
                using T = std::decay_t<decltype(op)>;
                if constexpr (std::is_same_v<T, SignOperation> ||
                              std::is_same_v<T, DecryptOperation>) {
                    per_use.pin = op.context_pin.get();
                }
                if constexpr (std::is_same_v<T, SignOperation>)
                    return token.sign(key, op, per_use, client);
                if constexpr (std::is_same_v<T, DecryptOperation>)
                    return token.decrypt(key, op, per_use, client);
                if constexpr (std::is_same_v<T, DeriveOperation>)
                    return token.derive(key, op, client);
                return agent_error(ErrorCode::internal, "not a key operation");
            },
            operation);
        if (bytes) {
            performed.result = Outcome(KeyResult(std::move(*bytes)));
        } else {
            steps.stopped_by = "token";
            performed.result = std::move(bytes).error();
        }
    }
    forget_context_pin(operation);  // used once at most; wiped now, not when dropped
    if (!performed.result)
        performed.token_flags = flags_for(chain.match.token.get(), performed.result.error());
    audit(chain, performed, steps.stopped_by);
    return performed;
}

Result<UnlockResult> Broker::unlock_token(Chain& chain, UnlockOperation& op) {
    Token& token = *chain.token;
    const bool pin_pad = token.info().protected_authentication_path();
    // Without a PIN (and without a PIN pad) the agent asks for it through its dialog: the CLI's
    // `--pin-source pinentry`, the forwarding module's C_Login(CKU_USER, NULL). The dialog
    // itself asks about the final try.
    if (!op.pin && !pin_pad && parts_.prompt)
        return token.unlock_interactive(*parts_.prompt, pin_request_for(chain.context));
    const Secret* pin = op.pin ? &*op.pin : nullptr;
    auto result = token.unlock(pin, /*confirm_final_try=*/false);
    if (result || error_code_of(result.error()) != ErrorCode::final_try)
        return result;
    // One try left, and the PIN came from the client (or goes on the PIN pad): only the user,
    // in the agent's own dialog, may decide to spend it.
    if (!parts_.prompt) {
        return agent_error(ErrorCode::final_try,
                           "the card " + token.display_name() +
                               " has one PIN try left; a wrong PIN blocks it. The agent has no "
                               "dialog to confirm the last try: ask an administrator");
    }
    PromptCancel cancel;
    auto answer = parts_.prompt->confirm(final_try_confirmation(chain.context, token), cancel);
    if (!answer) {
        chain.confirmation = "unavailable";
        return agent_error(ErrorCode::final_try,
                           "the card " + token.display_name() +
                               " has one PIN try left, and the agent could not ask you to "
                               "confirm spending it (" +
                               answer.error().message() + ")");
    }
    if (*answer != ConfirmAnswer::allowed) {
        chain.confirmation = *answer == ConfirmAnswer::denied ? "denied" : "timed-out";
        return agent_error(ErrorCode::final_try, "the last PIN try of the card " +
                                                     token.display_name() + " was not confirmed");
    }
    chain.confirmation = "confirmed";
    return token.unlock(pin, /*confirm_final_try=*/true);
}

Performed Broker::unlock(UnlockOperation& op, const Context& context) {
    Chain chain(context, OperationKind::unlock, op.token);
    StepRunner steps;
    steps.run("resolve-token",
              [&] { return resolve_token(chain, parts_.tokens, parts_.holders.get()); }) &&
        steps.run("holder", [&] { return check_holder(chain, parts_.holders.get()); }) &&
        steps.run("client-policy", [&] { return apply_client_policy(chain, *parts_.policy); }) &&
        steps.run("session", [&] { return check_session(chain, parts_.start_time_of); }) &&
        steps.run("card-auth", [&] { return check_before_pin(chain, parts_.holders.get()); });
    Performed performed;
    std::string ok_result = "ok";
    if (steps.error) {
        performed.result = std::move(*steps.error);
    } else {
        auto result = unlock_token(chain, op);
        if (result) {
            if (result->already_unlocked)
                ok_result = "already-unlocked";
            performed.result = Outcome(std::move(*result));
        } else {
            steps.stopped_by = "token";
            performed.result = std::move(result).error();
            performed.token_flags = chain.token->info().flags;
        }
    }
    op.pin.reset();  // wipes it now rather than when the operation is dropped
    audit(chain, performed, steps.stopped_by, ok_result);
    return performed;
}

Performed Broker::lock(const LockOperation& op, const Context& context) {
    Chain chain(context, OperationKind::lock, op.token.empty() ? "all" : op.token);
    std::vector<std::shared_ptr<Token>> targets;
    StepRunner steps;
    if (op.token.empty()) {
        // Managed mode: "lock all" is all of the client's own cards.
        for (const auto& t : parts_.tokens.tokens()) {
            if (serves(*t, context))
                targets.push_back(t);
        }
    } else if (steps.run(
                   "resolve-token",
                   [&] { return resolve_token(chain, parts_.tokens, parts_.holders.get()); }) &&
               steps.run("holder", [&] { return check_holder(chain, parts_.holders.get()); })) {
        targets.push_back(chain.token);
    }
    steps.run("client-policy", [&] { return apply_client_policy(chain, *parts_.policy); });
    Performed performed;
    if (steps.error) {
        performed.result = std::move(*steps.error);
        audit(chain, performed, steps.stopped_by);
        return performed;
    }
    LockResult result;
    for (const auto& t : targets)
        result.locked += t->lock("lock request") ? 1 : 0;
    remembered_.forget_all();  // after a lock, every confirmation is asked again
    // A lock that could not end the login is a failure the user must act on.
    for (const auto& t : targets) {
        if (t->present() && t->unusable()) {
            performed.result = agent_error(ErrorCode::device_error,
                                           "the card " + t->display_name() +
                                               " could not be locked and is still logged in; "
                                               "remove the card");
            audit(chain, performed, "token");
            return performed;
        }
    }
    performed.result = Outcome(result);
    audit(chain, performed, "");
    return performed;
}

Performed Broker::list(const Context& context) {
    Chain chain(context, OperationKind::list, "");
    Performed performed;
    if (Status s = apply_client_policy(chain, *parts_.policy); !s) {
        performed.result = std::move(s).error();
        audit(chain, performed, "client-policy");
        return performed;
    }
    KeyListing listing;
    for (const auto& t : parts_.tokens.tokens()) {
        if (!t->present() || !serves(*t, context))
            continue;
        for (const auto& k : t->keys()) {
            if (!parts_.holders || parts_.holders->lists_key(*t, *k))
                listing.keys.push_back({t, k});
        }
        for (auto& a : t->authorities())
            listing.authorities.push_back({t, std::move(a)});
    }
    // Listing is not audited line by line: it reveals public keys only, and ssh lists at
    // every connection.
    performed.result = Outcome(std::move(listing));
    return performed;
}

void Broker::audit(const Chain& chain, const Performed& performed, const std::string& step,
                   const std::string& ok_result) {
    AuditRecord r;
    r.operation = chain.kind;
    r.channel = chain.context.channel;
    r.client = chain.context.client;
    r.on_token = chain.kind == OperationKind::unlock || chain.kind == OperationKind::lock;
    if (chain.match.key)
        r.subject = chain.match.key->id;
    else if (chain.token)
        r.subject = chain.token->serial();
    else
        r.subject = chain.reference;
    if (performed.result) {
        r.result = ok_result;
        if (chain.kind == OperationKind::lock)
            r.result = "ok";
    } else {
        r.result = protocol::name_of(error_code_of(performed.result.error()));
        r.reason = performed.result.error().message();
        r.step = step;
    }
    r.rule = chain.decision.rule;
    r.confirmation = chain.confirmation;
    if (chain.context.channel == Channel::ssh) {
        r.ssh_destination = chain.context.ssh.destination;
        r.sshsig_namespace = chain.context.ssh.sshsig_namespace;
        r.ssh_forwarded = chain.context.ssh.forwarded;
    }
    parts_.audit.record(r);
}

std::vector<TokenState> Broker::token_states(const Context& context) const {
    std::vector<TokenState> out;
    for (const auto& t : parts_.tokens.tokens()) {
        if (serves(*t, context))
            out.push_back(t->status());
    }
    return out;
}

bool Broker::serves(const Token& token, const Context& context) const {
    return !parts_.holders || parts_.holders->check_card(token, context.client.user).served;
}

Result<Bytes> Broker::random(size_t size) {
    auto token = parts_.tokens.find_token("");
    if (token)
        return (*token)->random(size);
    // Several tokens: any present one will do.
    for (const auto& t : parts_.tokens.tokens()) {
        if (t->present())
            return t->random(size);
    }
    return std::move(token).error();
}

}  // namespace attache::agent
