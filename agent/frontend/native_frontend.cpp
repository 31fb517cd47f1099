#include "agent/frontend/native_frontend.h"

#include <unistd.h>

#include <algorithm>

#include "agent/core/agent_error.h"
#include "pkcs11/mechanism.h"

namespace attache::agent {
namespace {

using namespace protocol;

Operation to_operation(SignRequest& r) {
    return SignOperation{std::move(r.key),
                         r.scheme,
                         r.hash,
                         r.prehashed,
                         r.pss_salt_length,
                         r.ecdsa_der,
                         std::move(r.data),
                         std::move(r.context_pin)};
}

Operation to_operation(DecryptRequest& r) {
    return DecryptOperation{std::move(r.key),        r.scheme,          r.oaep_hash,
                            std::move(r.oaep_label), std::move(r.data), std::move(r.context_pin)};
}

Operation to_operation(DeriveRequest& r) {
    return DeriveOperation{std::move(r.key), std::move(r.peer_point)};
}

Operation to_operation(UnlockRequest& r) {
    // r.confirm_final_try is not passed on: the last try is confirmed by the user in the
    // agent's dialog, never by a client's flag (docs/protocol.md).
    return UnlockOperation{std::move(r.token), std::move(r.pin)};
}

Operation to_operation(LockRequest& r) {
    return LockOperation{std::move(r.token)};
}

template <typename ReplyT>
Reply key_reply(Performed& performed) {
    if (!performed.result)
        return error_reply(performed.result.error(), performed.token_flags);
    auto& out = std::get<KeyResult>(*performed.result);
    return ReplyT{std::move(out.bytes)};
}

Reply to_reply(Performed& performed, MessageType type) {
    if (!performed.result)
        return error_reply(performed.result.error(), performed.token_flags);
    Outcome& outcome = *performed.result;
    switch (type) {
        case MessageType::sign:
            return key_reply<SignReply>(performed);
        case MessageType::decrypt:
            return key_reply<DecryptReply>(performed);
        case MessageType::derive:
            return key_reply<DeriveReply>(performed);
        case MessageType::unlock: {
            auto& u = std::get<UnlockResult>(outcome);
            return UnlockReply{u.token_label, u.already_unlocked};
        }
        case MessageType::lock:
            return LockReply{std::get<LockResult>(outcome).locked};
        case MessageType::list_keys: {
            ListKeysReply reply;
            const KeyListing& listing = std::get<KeyListing>(outcome);
            for (const auto& k : listing.keys)
                reply.keys.push_back(key_entry(*k.token, *k.key));
            for (const auto& a : listing.authorities)
                reply.authorities.push_back(authority_entry(*a.token, a.certificate));
            return reply;
        }
        default:
            break;
    }
    return ErrorReply{ErrorCode::internal, 0, 0, "no reply for this request"};
}

TokenStatus to_status(const TokenState& t) {
    TokenStatus s;
    s.uri = t.uri;
    s.label = t.label;
    s.serial = t.serial;
    s.manufacturer = t.manufacturer;
    s.model = t.model;
    s.present = t.present;
    s.unlocked = t.unlocked;
    s.flags = t.flags;
    s.since = t.since;
    s.lock_reason = t.lock_reason;
    s.key_count = t.key_count;
    return s;
}

}  // namespace

ErrorReply error_reply(const Error& error, uint64_t token_flags) {
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
    e.always_authenticate = key.always_authenticate;
    e.decrypt_support = key.decrypt_support;
    e.certificate_label = key.certificate_label;
    return e;
}

AuthorityCertificate authority_entry(const Token& token, const AuthorityRecord& certificate) {
    AuthorityCertificate a;
    a.token_label = token.label();
    a.token_serial = token.serial();
    a.label = certificate.label;
    a.cka_id = certificate.cka_id;
    a.certificate = certificate.certificate;
    return a;
}

Reply NativeFrontend::hello(const HelloRequest& r, NativeConnection& connection) {
    // The highest version both speak.
    const uint32_t version = std::min(r.max_version, kProtocolVersion);
    if (version < kMinProtocolVersion || version < r.min_version) {
        return ErrorReply{ErrorCode::unsupported_version, 0, 0,
                          "this agent speaks protocol versions " +
                              std::to_string(kMinProtocolVersion) + " to " +
                              std::to_string(kProtocolVersion)};
    }
    connection.hello_done = true;
    connection.version = version;
    if (std::string_view(r.client).starts_with(forwarding::kClientName))
        connection.channel = Channel::forwarding_module;
    return HelloReply{version, identity_.version};
}

Reply NativeFrontend::status(const Context& context) {
    StatusReply s;
    s.agent = identity_.version;
    s.pid = static_cast<uint32_t>(getpid());
    s.socket = identity_.socket;
    s.ssh_socket = identity_.ssh_socket;
    for (const auto& t : broker_.token_states(context))
        s.tokens.push_back(to_status(t));
    return s;
}

Reply NativeFrontend::random(const RandomRequest& r) {
    auto data = broker_.random(r.length);
    if (!data)
        return error_reply(data.error());
    return RandomReply{std::move(*data)};
}

// The records of a reply fit in a frame with room to spare: the oldest are left out first.
constexpr size_t kAuditReplyBudget = kMaxMessageSize - 16 * 1024;

size_t encoded_size(const AuditLogRecord& r) {
    size_t n = 8 + 4 + r.time.size() + 4;
    for (const auto& [name, value] : r.fields)
        n += 8 + name.size() + value.size();
    return n;
}

Reply NativeFrontend::audit_log(const AuditLogRequest& r, const ClientFacts& client) {
    if (audit_reader_ == nullptr)
        return ErrorReply{ErrorCode::bad_request, 0, 0,
                          "this agent keeps no audit file to read back (personal mode): its audit "
                          "records are lines of its own log, `journalctl --user -u attache-agent "
                          "MESSAGE_ID=4f0c1f3e5b8a4d2a9e61c7b0d3a5f812` under systemd, else "
                          "~/.local/state/attache/agent.log"};
    // Only the caller's own records: its uid as the kernel gave it (SO_PEERCRED).
    auto records = audit_reader_->records_of(client.uid, r.max_records);
    if (!records)
        return ErrorReply{ErrorCode::internal, 0, 0,
                          "cannot read the audit file: " + records.error().message()};
    AuditLogReply reply;
    size_t size = 0;
    // Newest first into the budget, then back in file order.
    for (auto it = records->rbegin(); it != records->rend(); ++it) {
        AuditLogRecord a{it->seq, it->time, {}};
        for (auto& field : it->fields) {
            if (a.fields.size() == kMaxAuditFields)
                break;
            a.fields.emplace_back(field.first.substr(0, kMaxTextSize),
                                  field.second.substr(0, kMaxTextSize));
        }
        const size_t n = encoded_size(a);
        if (size + n > kAuditReplyBudget) {
            reply.omitted = static_cast<uint32_t>(records->rend() - it);
            break;
        }
        size += n;
        reply.records.push_back(std::move(a));
    }
    std::reverse(reply.records.begin(), reply.records.end());
    return reply;
}

Reply NativeFrontend::handle(Request& request, const ClientFacts& client,
                             NativeConnection& connection) {
    if (auto* h = std::get_if<HelloRequest>(&request))
        return hello(*h, connection);
    if (!connection.hello_done)
        return ErrorReply{ErrorCode::bad_request, 0, 0, "the first request must be hello"};
    const MessageType type = type_of(request);
    Context context{client, connection.channel, {}};
    return std::visit(
        [&](auto& r) -> Reply {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, StatusRequest>) {
                return status(context);
            } else if constexpr (std::is_same_v<T, RandomRequest>) {
                return random(r);
            } else if constexpr (std::is_same_v<T, AuditLogRequest>) {
                return audit_log(r, client);
            } else if constexpr (std::is_same_v<T, HelloRequest>) {
                return ErrorReply{};
            } else if constexpr (std::is_same_v<T, ListKeysRequest>) {
                Performed p = broker_.perform(ListOperation{}, context);
                return to_reply(p, type);
            } else {
                Performed p = broker_.perform(to_operation(r), context);
                return to_reply(p, type);
            }
        },
        request);
}

}  // namespace attache::agent
