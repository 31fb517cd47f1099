#include "agent/core/dispatcher.h"

#include <unistd.h>

#include "agent/core/agent_error.h"
#include "agent/core/log.h"

namespace attache::agent {
namespace {

using namespace protocol;

// One audit record: what was asked, of which key or token (as the client named it when the
// lookup failed), by whom, and how it ended.
void audit_request(const char* op, const char* subject, const std::string& target,
                   const ClientFacts& client, const std::string& result) {
    audit({{"op", op},
           {subject, target},
           {"pid", std::to_string(client.pid)},
           {"uid", std::to_string(client.uid)},
           {"exe", client.exe},
           {"result", result}});
}

std::string result_name(const Error& error) {
    return name_of(error_code_of(error));
}

// "/usr/bin/ssh (pid 4242)": names the program in the PIN prompt it caused.
std::string requester_of(const ClientFacts& client) {
    return client.exe + " (pid " + std::to_string(client.pid) + ")";
}

// The token's flags travel with PIN errors, so clients can say how many tries are left.
uint64_t flags_for(const Token& token, const Error& error) {
    switch (error_code_of(error)) {
        case ErrorCode::pin_incorrect:
        case ErrorCode::pin_locked:
        case ErrorCode::final_try:
            return token.info().flags;
        default:
            return 0;
    }
}

// Finds the key, unlocks its token through pinentry when it is locked and the agent prompts
// on use, runs `op` on it and writes the audit record.
template <typename ReplyT, typename Op>
Reply key_operation(TokenManager& tokens, const char* name, const std::string& ref,
                    const ClientFacts& client, Op&& op) {
    auto match = tokens.find_key(ref);
    if (!match) {
        // Lookups that find nothing are recorded too, with the reference as the client sent it
        // (quoted and escaped by the audit line).
        audit_request(name, "key", ref, client, result_name(match.error()));
        return Dispatcher::error_reply(match.error());
    }
    Result<Bytes> result = [&]() -> Result<Bytes> {
        ATTACHE_CHECK(tokens.prepare_use(*match, requester_of(client)));
        return op(*match);
    }();
    audit_request(name, "key", match->key->id, client, result ? "ok" : result_name(result.error()));
    if (!result)
        return Dispatcher::error_reply(result.error(), flags_for(*match->token, result.error()));
    return ReplyT{std::move(*result)};
}

}  // namespace

ErrorReply Dispatcher::error_reply(const Error& error, uint64_t token_flags) {
    ErrorReply e;
    e.code = error_code_of(error);
    e.ckr = error.rv().value_or(0);
    e.token_flags = token_flags;
    e.message = error.message();
    return e;
}

KeyEntry key_entry(const Token& token, const KeyRecord& key) {
    KeyEntry e;
    e.id = key.id;
    e.uri = key.uri;
    e.label = key.label;
    e.cka_id = key.cka_id;
    e.token_label = token.label();
    e.token_serial = token.serial();
    e.type = key.type;
    e.bits = key.bits;
    e.operations = key.operations;
    e.served = key.served;
    e.refusal = key.refusal;
    e.spki = key.spki;
    e.certificate = key.certificate;
    return e;
}

Reply Dispatcher::handle(Request& request, const ClientFacts& client, bool& hello_done) {
    if (auto* hello = std::get_if<HelloRequest>(&request)) {
        if (hello->min_version > kProtocolVersion || hello->max_version < kProtocolVersion) {
            return ErrorReply{
                ErrorCode::unsupported_version, 0, 0,
                "this agent speaks protocol version " + std::to_string(kProtocolVersion)};
        }
        hello_done = true;
        return HelloReply{kProtocolVersion, identity_.version};
    }
    if (!hello_done) {
        return ErrorReply{ErrorCode::bad_request, 0, 0, "the first request must be hello"};
    }
    return std::visit(
        [&](auto& r) -> Reply {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, StatusRequest>)
                return status();
            if constexpr (std::is_same_v<T, ListKeysRequest>)
                return list_keys();
            if constexpr (std::is_same_v<T, SignRequest>)
                return sign(r, client);
            if constexpr (std::is_same_v<T, DecryptRequest>)
                return decrypt(r, client);
            if constexpr (std::is_same_v<T, DeriveRequest>)
                return derive(r, client);
            if constexpr (std::is_same_v<T, UnlockRequest>)
                return unlock(r, client);
            if constexpr (std::is_same_v<T, LockRequest>)
                return lock(r, client);
            if constexpr (std::is_same_v<T, RandomRequest>)
                return random(r);
            if constexpr (std::is_same_v<T, HelloRequest>)
                return ErrorReply{};
        },
        request);
}

Reply Dispatcher::status() {
    StatusReply s;
    s.agent = identity_.version;
    s.pid = static_cast<uint32_t>(getpid());
    s.socket = identity_.socket;
    s.ssh_socket = identity_.ssh_socket;
    for (const auto& t : tokens_.tokens())
        s.tokens.push_back(t->status());
    return s;
}

Reply Dispatcher::list_keys() {
    ListKeysReply reply;
    for (const auto& t : tokens_.tokens()) {
        if (!t->present())
            continue;
        for (const auto& k : t->keys())
            reply.keys.push_back(key_entry(*t, *k));
    }
    return reply;
}

Reply Dispatcher::sign(const SignRequest& r, const ClientFacts& client) {
    const OperationPrompt prompt{tokens_.prompter(), requester_of(client)};
    return key_operation<SignReply>(tokens_, "sign", r.key, client, [&](const KeyMatch& m) {
        return m.token->sign(*m.key, r, prompt);
    });
}

Reply Dispatcher::decrypt(const DecryptRequest& r, const ClientFacts& client) {
    const OperationPrompt prompt{tokens_.prompter(), requester_of(client)};
    return key_operation<DecryptReply>(tokens_, "decrypt", r.key, client, [&](const KeyMatch& m) {
        return m.token->decrypt(*m.key, r, prompt);
    });
}

Reply Dispatcher::derive(const DeriveRequest& r, const ClientFacts& client) {
    return key_operation<DeriveReply>(tokens_, "derive", r.key, client, [&](const KeyMatch& m) {
        return m.token->derive(*m.key, r);
    });
}

Reply Dispatcher::unlock(UnlockRequest& r, const ClientFacts& client) {
    auto token = tokens_.find_token(r.token);
    if (!token) {
        audit_request("unlock", "token", r.token, client, result_name(token.error()));
        return error_reply(token.error());
    }
    // Without a PIN (and without a PIN pad) the agent asks for it through pinentry: the CLI's
    // `--pin-source pinentry`, the forwarding module's C_Login(CKU_USER, NULL).
    const bool ask =
        !r.pin && tokens_.can_prompt() && !(*token)->info().protected_authentication_path();
    auto result = ask ? tokens_.unlock_interactive(**token, requester_of(client))
                      : (*token)->unlock(r.pin ? &*r.pin : nullptr, r.confirm_final_try);
    r.pin.reset();  // wipes it now rather than when the request is dropped
    audit_request("unlock", "token", (*token)->serial(), client,
                  result ? (result->already_unlocked ? "already-unlocked" : "ok")
                         : result_name(result.error()));
    if (!result)
        return error_reply(result.error(), (*token)->info().flags);
    return std::move(*result);
}

Reply Dispatcher::lock(const LockRequest& r, const ClientFacts& client) {
    LockReply reply;
    std::vector<std::shared_ptr<Token>> targets;
    if (r.token.empty()) {
        targets = tokens_.tokens();
    } else {
        auto token = tokens_.find_token(r.token);
        if (!token) {
            audit_request("lock", "token", r.token, client, result_name(token.error()));
            return error_reply(token.error());
        }
        targets.push_back(*token);
    }
    for (const auto& t : targets)
        reply.locked += t->lock("lock request") ? 1 : 0;
    // A lock that could not end the login is a failure the user must act on.
    for (const auto& t : targets) {
        if (t->present() && t->unusable()) {
            Error e = agent_error(ErrorCode::device_error,
                                  "the card " + t->display_name() +
                                      " could not be locked and is still logged in; remove the "
                                      "card");
            audit_request("lock", "token", t->serial(), client, result_name(e));
            return error_reply(e);
        }
    }
    audit_request("lock", "token", r.token.empty() ? "all" : r.token, client, "ok");
    return reply;
}

Reply Dispatcher::random(const RandomRequest& r) {
    auto token = tokens_.find_token("");
    if (!token) {
        // Several tokens: any present one will do.
        for (const auto& t : tokens_.tokens()) {
            if (t->present()) {
                auto data = t->random(r.length);
                if (data)
                    return RandomReply{std::move(*data)};
                return error_reply(data.error());
            }
        }
        return error_reply(token.error());
    }
    auto data = (*token)->random(r.length);
    if (!data)
        return error_reply(data.error());
    return RandomReply{std::move(*data)};
}

}  // namespace attache::agent
