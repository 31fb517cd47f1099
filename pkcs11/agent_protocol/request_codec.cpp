// Requests: client -> agent.

#include <openssl/crypto.h>

#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/agent_protocol/wire.h"

namespace attache::protocol {
namespace {

using wire::Reader;
using wire::Writer;

Error malformed_request(const char* what) {
    return Error(std::string("malformed request: ") + what);
}

// The hash on the wire (docs/protocol.md): 0 none, 1 SHA-1, 2 SHA-256, 3 SHA-384, 4 SHA-512.
uint8_t hash_code(std::optional<p11::Hash> hash) {
    if (!hash)
        return 0;
    switch (*hash) {
        case p11::Hash::sha1:
            return 1;
        case p11::Hash::sha256:
            return 2;
        case p11::Hash::sha384:
            return 3;
        case p11::Hash::sha512:
            return 4;
    }
    return 0;
}

bool read_hash(Reader& r, std::optional<p11::Hash>& out) {
    static constexpr p11::Hash kByCode[] = {p11::Hash::sha1, p11::Hash::sha256, p11::Hash::sha384,
                                            p11::Hash::sha512};
    uint8_t v;
    if (!r.u8(v) || v > 4)
        return false;
    out = v == 0 ? std::nullopt : std::optional<p11::Hash>(kByCode[v - 1]);
    return true;
}

// A PIN as unlock and (version 2) sign and decrypt carry it: bool present, string PIN (empty
// when absent), copied into locked memory as it is read.
Result<std::optional<Secret>> read_pin(Reader& r, const char* what) {
    bool has_pin;
    std::span<const uint8_t> pin;
    if (!r.boolean(has_pin) || !r.string(pin, kMaxPinSize))
        return malformed_request(what);
    if (!has_pin) {
        if (!pin.empty())
            return Error(std::string("malformed request: ") + what + ": PIN bytes without a PIN");
        return std::optional<Secret>();
    }
    Secret s;
    if (!Secret::from(std::string_view(reinterpret_cast<const char*>(pin.data()), pin.size()), s))
        return Error("cannot hold the PIN in locked memory");
    return std::optional<Secret>(std::move(s));
}

// The context PIN of sign and decrypt (version 2), shared by copies of the request.
Result<std::shared_ptr<const Secret>> read_context_pin(Reader& r, const char* what) {
    ATTACHE_TRY(std::optional<Secret> pin, read_pin(r, what));
    if (!pin)
        return std::shared_ptr<const Secret>();
    return std::make_shared<const Secret>(std::move(*pin));
}

void write_pin(Writer& w, const Secret* pin) {
    w.boolean(pin != nullptr);
    if (pin)
        w.string(std::span<const uint8_t>(pin->data(), pin->size()));
    else
        w.u32(0);
}

Result<Request> decode_body(MessageType type, Reader& r, uint32_t version) {
    switch (type) {
        case MessageType::hello: {
            HelloRequest m;
            if (!r.u32(m.min_version) || !r.u32(m.max_version) || !r.text(m.client, kMaxTextSize)) {
                return malformed_request("hello");
            }
            return Request(std::move(m));
        }
        case MessageType::status:
            return Request(StatusRequest{});
        case MessageType::list_keys:
            return Request(ListKeysRequest{});
        case MessageType::sign: {
            SignRequest m;
            uint8_t scheme;
            if (!r.text(m.key, kMaxKeyRefSize) || !r.u8(scheme) || !read_hash(r, m.hash) ||
                !r.boolean(m.prehashed) || !r.u32(m.pss_salt_length) || !r.boolean(m.ecdsa_der) ||
                !r.bytes(m.data, kMaxMessageSize)) {
                return malformed_request("sign");
            }
            if (scheme < 1 || scheme > static_cast<uint8_t>(SignScheme::eddsa)) {
                return malformed_request("sign: unknown scheme");
            }
            if (version >= 2) {
                ATTACHE_TRY(m.context_pin, read_context_pin(r, "sign"));
            }
            m.scheme = static_cast<SignScheme>(scheme);
            return Request(std::move(m));
        }
        case MessageType::decrypt: {
            DecryptRequest m;
            uint8_t scheme;
            if (!r.text(m.key, kMaxKeyRefSize) || !r.u8(scheme) || !read_hash(r, m.oaep_hash) ||
                !r.bytes(m.oaep_label, kMaxMessageSize) || !r.bytes(m.data, kMaxMessageSize)) {
                return malformed_request("decrypt");
            }
            if (scheme < 1 || scheme > static_cast<uint8_t>(DecryptScheme::rsa_pkcs1)) {
                return malformed_request("decrypt: unknown scheme");
            }
            if (version >= 2) {
                ATTACHE_TRY(m.context_pin, read_context_pin(r, "decrypt"));
            }
            m.scheme = static_cast<DecryptScheme>(scheme);
            return Request(std::move(m));
        }
        case MessageType::derive: {
            DeriveRequest m;
            if (!r.text(m.key, kMaxKeyRefSize) || !r.bytes(m.peer_point, kMaxTextSize)) {
                return malformed_request("derive");
            }
            return Request(std::move(m));
        }
        case MessageType::unlock: {
            UnlockRequest m;
            if (!r.text(m.token, kMaxKeyRefSize) || !r.boolean(m.confirm_final_try))
                return malformed_request("unlock");
            ATTACHE_TRY(m.pin, read_pin(r, "unlock"));
            return Request(std::move(m));
        }
        case MessageType::lock: {
            LockRequest m;
            if (!r.text(m.token, kMaxKeyRefSize))
                return malformed_request("lock");
            return Request(std::move(m));
        }
        case MessageType::random: {
            RandomRequest m;
            if (!r.u32(m.length))
                return malformed_request("random");
            if (m.length > kMaxRandomSize)
                return malformed_request("random: too many bytes asked");
            return Request(m);
        }
        case MessageType::audit_log: {
            AuditLogRequest m;
            if (!r.u32(m.max_records))
                return malformed_request("audit-log");
            if (m.max_records < 1 || m.max_records > kMaxAuditRecords)
                return malformed_request("audit-log: the record count is out of range");
            return Request(m);
        }
    }
    return malformed_request("unknown message type");
}

void encode_body(Writer& w, const Request& request, uint32_t version) {
    std::visit(
        [&](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, HelloRequest>) {
                w.u32(m.min_version).u32(m.max_version).string(m.client);
            } else if constexpr (std::is_same_v<T, SignRequest>) {
                w.string(m.key)
                    .u8(static_cast<uint8_t>(m.scheme))
                    .u8(hash_code(m.hash))
                    .boolean(m.prehashed)
                    .u32(m.pss_salt_length)
                    .boolean(m.ecdsa_der)
                    .string(m.data);
                if (version >= 2)
                    write_pin(w, m.context_pin.get());
            } else if constexpr (std::is_same_v<T, DecryptRequest>) {
                w.string(m.key)
                    .u8(static_cast<uint8_t>(m.scheme))
                    .u8(hash_code(m.oaep_hash))
                    .string(m.oaep_label)
                    .string(m.data);
                if (version >= 2)
                    write_pin(w, m.context_pin.get());
            } else if constexpr (std::is_same_v<T, DeriveRequest>) {
                w.string(m.key).string(m.peer_point);
            } else if constexpr (std::is_same_v<T, UnlockRequest>) {
                w.string(m.token).boolean(m.confirm_final_try);
                write_pin(w, m.pin ? &*m.pin : nullptr);
            } else if constexpr (std::is_same_v<T, LockRequest>) {
                w.string(m.token);
            } else if constexpr (std::is_same_v<T, RandomRequest>) {
                w.u32(m.length);
            } else if constexpr (std::is_same_v<T, AuditLogRequest>) {
                w.u32(m.max_records);
            }
        },
        request);
}

}  // namespace

Result<uint32_t> frame_length(std::span<const uint8_t, 4> prefix) {
    const uint32_t len = (uint32_t{prefix[0]} << 24) | (uint32_t{prefix[1]} << 16) |
                         (uint32_t{prefix[2]} << 8) | uint32_t{prefix[3]};
    if (len == 0)
        return Error("empty message");
    if (len > kMaxMessageSize) {
        return Error("message of " + std::to_string(len) + " bytes exceeds the limit of " +
                     std::to_string(kMaxMessageSize));
    }
    return len;
}

Result<RequestFrame> decode_request(std::span<const uint8_t> body, uint32_t version) {
    if (body.size() > kMaxMessageSize)
        return malformed_request("too large");
    Reader r(body);
    uint8_t type;
    RequestFrame frame;
    if (!r.u8(type) || !r.u32(frame.id))
        return malformed_request("truncated header");
    if (type < static_cast<uint8_t>(MessageType::hello) ||
        type > static_cast<uint8_t>(MessageType::audit_log)) {
        return Error("unknown request type " + std::to_string(type));
    }
    ATTACHE_TRY(frame.request, decode_body(static_cast<MessageType>(type), r, version));
    if (!r.at_end())
        return malformed_request("trailing bytes");
    return frame;
}

Bytes encode_request(uint32_t id, const Request& request, uint32_t version) {
    Writer w;
    w.u32(0).u8(static_cast<uint8_t>(type_of(request))).u32(id);
    encode_body(w, request, version);
    w.patch_length(0);
    return w.take();
}

}  // namespace attache::protocol
