#include "agent/ssh/messages.h"

#include <string>
#include <utility>

#include "agent/ssh/framing.h"

namespace attache::ssh {
namespace {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

Bytes copy(ByteView v) {
    return Bytes(v.begin(), v.end());
}

Result<ByteView> field(Reader& r, std::string_view what) {
    auto s = r.string();
    if (!s)
        return std::move(s).error().context(what);
    return *s;
}

Result<Secret> secret_field(Reader& r, std::string_view what) {
    ATTACHE_TRY(ByteView bytes, field(r, what));
    Secret secret;
    if (!Secret::from(as_chars(bytes), secret)) {
        return Error(std::string(what) + ": " + std::to_string(bytes.size()) +
                     " bytes do not fit a secret of at most " + std::to_string(Secret::kCapacity) +
                     " bytes");
    }
    return secret;
}

Result<std::string> reader_id_field(Reader& r) {
    ATTACHE_TRY(ByteView bytes, field(r, "reader id"));
    std::string id(as_chars(bytes));
    if (id.find('\0') != std::string::npos)
        return Error("reader id: contains a NUL byte");
    return id;
}

Result<Request> decode_sign_request(Reader& r) {
    SignRequest m;
    ATTACHE_TRY(ByteView key, field(r, "key blob"));
    ATTACHE_TRY(ByteView data, field(r, "data"));
    auto flags = r.u32();
    if (!flags)
        return std::move(flags).error().context("flags");
    ATTACHE_CHECK(r.expect_end());
    m.key_blob = copy(key);
    m.data = copy(data);
    m.flags = *flags;
    return Request(std::move(m));
}

Result<Request> decode_remove_identity(Reader& r) {
    ATTACHE_TRY(ByteView key, field(r, "key blob"));
    ATTACHE_CHECK(r.expect_end());
    return Request(RemoveIdentity{copy(key)});
}

Result<Request> decode_add_smartcard_key(Reader& r, bool constrained) {
    ATTACHE_TRY(std::string id, reader_id_field(r));
    ATTACHE_TRY(Secret pin, secret_field(r, "PIN"));
    AddSmartcardKey m;
    m.reader_id = std::move(id);
    m.pin = std::move(pin);
    if (constrained)
        m.constraints = copy(r.rest());  // to the end of the message
    ATTACHE_CHECK(r.expect_end());
    return Request(std::move(m));
}

Result<Request> decode_remove_smartcard_key(Reader& r) {
    ATTACHE_TRY(std::string id, reader_id_field(r));
    ATTACHE_TRY(Secret pin, secret_field(r, "PIN"));
    ATTACHE_CHECK(r.expect_end());
    return Request(RemoveSmartcardKey{std::move(id), std::move(pin)});
}

Result<Request> decode_lock(Reader& r, bool lock) {
    ATTACHE_TRY(Secret passphrase, secret_field(r, "passphrase"));
    ATTACHE_CHECK(r.expect_end());
    if (lock)
        return Request(Lock{std::move(passphrase)});
    return Request(Unlock{std::move(passphrase)});
}

Result<Request> decode_extension(Reader& r) {
    ATTACHE_TRY(ByteView name_bytes, field(r, "extension name"));
    const std::string_view name = as_chars(name_bytes);
    if (name == kExtensionQuery) {
        if (auto end = r.expect_end(); !end)
            return std::move(end).error().context(kExtensionQuery);
        return Request(ExtensionQuery{});
    }
    if (name == kExtensionSessionBind) {
        auto parse = [&]() -> Result<Request> {
            ATTACHE_TRY(ByteView hostkey, field(r, "hostkey"));
            ATTACHE_TRY(ByteView session_id, field(r, "session identifier"));
            ATTACHE_TRY(ByteView signature, field(r, "signature"));
            auto forwarding = r.boolean();
            if (!forwarding)
                return std::move(forwarding).error().context("is_forwarding");
            ATTACHE_CHECK(r.expect_end());
            return Request(
                SessionBind{copy(hostkey), copy(session_id), copy(signature), *forwarding});
        };
        auto m = parse();
        if (!m)
            return std::move(m).error().context(kExtensionSessionBind);
        return m;
    }
    return Request(Extension{std::string(name), copy(r.rest())});
}

Result<Request> decode_body(std::uint8_t type, Reader& r) {
    switch (type) {
        case SSH_AGENTC_REQUEST_IDENTITIES:
            ATTACHE_CHECK(r.expect_end());
            return Request(RequestIdentities{});
        case SSH_AGENTC_SIGN_REQUEST:
            return decode_sign_request(r);
        case SSH_AGENTC_ADD_IDENTITY:
        case SSH_AGENTC_ADD_ID_CONSTRAINED:
            // The private key and its constraints are not looked at: they are refused whole.
            (void)r.rest();
            return Request(AddIdentity{type == SSH_AGENTC_ADD_ID_CONSTRAINED});
        case SSH_AGENTC_REMOVE_IDENTITY:
            return decode_remove_identity(r);
        case SSH_AGENTC_REMOVE_ALL_IDENTITIES:
            ATTACHE_CHECK(r.expect_end());
            return Request(RemoveAllIdentities{});
        case SSH_AGENTC_ADD_SMARTCARD_KEY:
            return decode_add_smartcard_key(r, false);
        case SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED:
            return decode_add_smartcard_key(r, true);
        case SSH_AGENTC_REMOVE_SMARTCARD_KEY:
            return decode_remove_smartcard_key(r);
        case SSH_AGENTC_LOCK:
            return decode_lock(r, true);
        case SSH_AGENTC_UNLOCK:
            return decode_lock(r, false);
        case SSH_AGENTC_EXTENSION:
            return decode_extension(r);
        default:
            (void)r.rest();
            return Request(Unknown{type});
    }
}

void put_secret(Writer& w, const Secret& s) {
    w.string(ByteView(s.data(), s.size()));
}

Bytes message(std::uint8_t type) {
    const std::uint8_t body[] = {type};
    return frame(body);
}

}  // namespace

std::string message_name(std::uint8_t type) {
    switch (type) {
        case SSH_AGENT_FAILURE:
            return "SSH_AGENT_FAILURE";
        case SSH_AGENT_SUCCESS:
            return "SSH_AGENT_SUCCESS";
        case SSH_AGENTC_REQUEST_IDENTITIES:
            return "SSH_AGENTC_REQUEST_IDENTITIES";
        case SSH_AGENT_IDENTITIES_ANSWER:
            return "SSH_AGENT_IDENTITIES_ANSWER";
        case SSH_AGENTC_SIGN_REQUEST:
            return "SSH_AGENTC_SIGN_REQUEST";
        case SSH_AGENT_SIGN_RESPONSE:
            return "SSH_AGENT_SIGN_RESPONSE";
        case SSH_AGENTC_ADD_IDENTITY:
            return "SSH_AGENTC_ADD_IDENTITY";
        case SSH_AGENTC_REMOVE_IDENTITY:
            return "SSH_AGENTC_REMOVE_IDENTITY";
        case SSH_AGENTC_REMOVE_ALL_IDENTITIES:
            return "SSH_AGENTC_REMOVE_ALL_IDENTITIES";
        case SSH_AGENTC_ADD_SMARTCARD_KEY:
            return "SSH_AGENTC_ADD_SMARTCARD_KEY";
        case SSH_AGENTC_REMOVE_SMARTCARD_KEY:
            return "SSH_AGENTC_REMOVE_SMARTCARD_KEY";
        case SSH_AGENTC_LOCK:
            return "SSH_AGENTC_LOCK";
        case SSH_AGENTC_UNLOCK:
            return "SSH_AGENTC_UNLOCK";
        case SSH_AGENTC_ADD_ID_CONSTRAINED:
            return "SSH_AGENTC_ADD_ID_CONSTRAINED";
        case SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED:
            return "SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED";
        case SSH_AGENTC_EXTENSION:
            return "SSH_AGENTC_EXTENSION";
        case SSH_AGENT_EXTENSION_FAILURE:
            return "SSH_AGENT_EXTENSION_FAILURE";
        case SSH_AGENT_EXTENSION_RESPONSE:
            return "SSH_AGENT_EXTENSION_RESPONSE";
        default:
            return "message type " + std::to_string(type);
    }
}

Result<Request> decode_request(ByteView body) {
    Reader r(body);
    auto type = r.u8();
    if (!type)
        return Error("empty agent message");
    auto request = decode_body(*type, r);
    if (!request)
        return std::move(request).error().context(message_name(*type));
    return request;
}

Bytes encode_request(const Request& request) {
    Writer w;
    std::visit(
        Overloaded{
            [&](const RequestIdentities&) { w.u8(SSH_AGENTC_REQUEST_IDENTITIES); },
            [&](const SignRequest& m) {
                w.u8(SSH_AGENTC_SIGN_REQUEST).string(m.key_blob).string(m.data).u32(m.flags);
            },
            [&](const AddIdentity& m) {
                w.u8(m.constrained ? SSH_AGENTC_ADD_ID_CONSTRAINED : SSH_AGENTC_ADD_IDENTITY);
            },
            [&](const RemoveIdentity& m) { w.u8(SSH_AGENTC_REMOVE_IDENTITY).string(m.key_blob); },
            [&](const RemoveAllIdentities&) { w.u8(SSH_AGENTC_REMOVE_ALL_IDENTITIES); },
            [&](const AddSmartcardKey& m) {
                w.u8(m.constraints ? SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED
                                   : SSH_AGENTC_ADD_SMARTCARD_KEY);
                w.string(m.reader_id);
                put_secret(w, m.pin);
                if (m.constraints)
                    w.raw(*m.constraints);
            },
            [&](const RemoveSmartcardKey& m) {
                w.u8(SSH_AGENTC_REMOVE_SMARTCARD_KEY).string(m.reader_id);
                put_secret(w, m.pin);
            },
            [&](const Lock& m) {
                w.u8(SSH_AGENTC_LOCK);
                put_secret(w, m.passphrase);
            },
            [&](const Unlock& m) {
                w.u8(SSH_AGENTC_UNLOCK);
                put_secret(w, m.passphrase);
            },
            [&](const ExtensionQuery&) { w.u8(SSH_AGENTC_EXTENSION).string(kExtensionQuery); },
            [&](const SessionBind& m) {
                w.u8(SSH_AGENTC_EXTENSION).string(kExtensionSessionBind);
                w.string(m.hostkey).string(m.session_id).string(m.signature);
                w.boolean(m.is_forwarding);
            },
            [&](const Extension& m) { w.u8(SSH_AGENTC_EXTENSION).string(m.name).raw(m.contents); },
            [&](const Unknown& m) { w.u8(m.type); },
        },
        request);
    return frame(w.bytes());
}

Bytes encode_failure() {
    return message(SSH_AGENT_FAILURE);
}

Bytes encode_success() {
    return message(SSH_AGENT_SUCCESS);
}

Bytes encode_extension_failure() {
    return message(SSH_AGENT_EXTENSION_FAILURE);
}

Bytes encode_identities(const std::vector<Identity>& identities) {
    Writer w;
    w.u8(SSH_AGENT_IDENTITIES_ANSWER).u32(static_cast<std::uint32_t>(identities.size()));
    for (const Identity& id : identities)
        w.string(id.key_blob).string(id.comment);
    return frame(w.bytes());
}

Bytes encode_sign_response(ByteView signature_blob) {
    Writer w;
    w.u8(SSH_AGENT_SIGN_RESPONSE).string(signature_blob);
    return frame(w.bytes());
}

Bytes encode_extension_response(std::string_view extension, ByteView contents) {
    Writer w;
    w.u8(SSH_AGENT_EXTENSION_RESPONSE).string(extension).raw(contents);
    return frame(w.bytes());
}

Bytes encode_query_response(const std::vector<std::string>& extensions) {
    Writer names;
    for (const std::string& name : extensions)
        names.string(name);
    return encode_extension_response(kExtensionQuery, names.bytes());
}

Result<Response> decode_response(ByteView body) {
    Reader r(body);
    auto type = r.u8();
    if (!type)
        return Error("empty agent message");
    auto decode = [&]() -> Result<Response> {
        switch (*type) {
            case SSH_AGENT_FAILURE:
                ATTACHE_CHECK(r.expect_end());
                return Response(FailureResponse{});
            case SSH_AGENT_SUCCESS:
                ATTACHE_CHECK(r.expect_end());
                return Response(SuccessResponse{});
            case SSH_AGENT_EXTENSION_FAILURE:
                ATTACHE_CHECK(r.expect_end());
                return Response(ExtensionFailure{});
            case SSH_AGENT_IDENTITIES_ANSWER: {
                auto count = r.u32();
                if (!count)
                    return std::move(count).error().context("count");
                IdentitiesAnswer answer;
                // No reserve(count): the count is the peer's claim; each entry must be present.
                for (std::uint32_t i = 0; i < *count; ++i) {
                    ATTACHE_TRY(ByteView key, field(r, "key blob"));
                    ATTACHE_TRY(ByteView comment, field(r, "comment"));
                    answer.identities.push_back(
                        Identity{copy(key), std::string(as_chars(comment))});
                }
                ATTACHE_CHECK(r.expect_end());
                return Response(std::move(answer));
            }
            case SSH_AGENT_SIGN_RESPONSE: {
                ATTACHE_TRY(ByteView signature, field(r, "signature"));
                ATTACHE_CHECK(r.expect_end());
                return Response(SignResponse{copy(signature)});
            }
            case SSH_AGENT_EXTENSION_RESPONSE: {
                ATTACHE_TRY(ByteView name, field(r, "extension name"));
                return Response(ExtensionResponse{std::string(as_chars(name)), copy(r.rest())});
            }
            default:
                (void)r.rest();
                return Response(UnknownResponse{*type});
        }
    };
    auto response = decode();
    if (!response)
        return std::move(response).error().context(message_name(*type));
    return response;
}

Result<std::vector<std::string>> decode_query_names(ByteView contents) {
    Reader r(contents);
    std::vector<std::string> names;
    while (!r.at_end()) {
        ATTACHE_TRY(ByteView name, field(r, "extension name"));
        names.emplace_back(as_chars(name));
    }
    return names;
}

}  // namespace attache::ssh
