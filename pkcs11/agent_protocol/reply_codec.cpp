// Replies: agent -> client. Clients (the CLI, attache-pkcs11.so inside applications) decode
// these, so a hostile or broken agent socket must not crash them: every length is bounded.

#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/agent_protocol/wire.h"

namespace attache::protocol {
namespace {

using wire::Reader;
using wire::Writer;

Error malformed_reply(const char* what) {
    return Error(std::string("malformed reply: ") + what);
}

bool read_token(Reader& r, TokenStatus& t) {
    return r.text(t.uri, kMaxKeyRefSize) && r.text(t.label, kMaxTextSize) &&
           r.text(t.serial, kMaxTextSize) && r.text(t.manufacturer, kMaxTextSize) &&
           r.text(t.model, kMaxTextSize) && r.boolean(t.present) && r.boolean(t.unlocked) &&
           r.u64(t.flags) && r.u64(t.since) && r.text(t.lock_reason, kMaxTextSize) &&
           r.u32(t.key_count);
}

void write_token(Writer& w, const TokenStatus& t) {
    w.string(t.uri)
        .string(t.label)
        .string(t.serial)
        .string(t.manufacturer)
        .string(t.model)
        .boolean(t.present)
        .boolean(t.unlocked)
        .u64(t.flags)
        .u64(t.since)
        .string(t.lock_reason)
        .u32(t.key_count);
}

bool read_key(Reader& r, KeyEntry& k, uint32_t version) {
    uint8_t type;
    if (!(r.text(k.id, kMaxTextSize) && r.text(k.uri, kMaxKeyRefSize) &&
          r.text(k.label, kMaxTextSize) && r.bytes(k.cka_id, kMaxTextSize) &&
          r.text(k.token_label, kMaxTextSize) && r.text(k.token_serial, kMaxTextSize) &&
          r.u8(type) && r.u32(k.bits) && r.u32(k.operations) && r.boolean(k.served) &&
          r.text(k.refusal, kMaxTextSize) && r.bytes(k.spki, kMaxMessageSize) &&
          r.bytes(k.certificate, kMaxMessageSize))) {
        return false;
    }
    if (type < 1 || type > static_cast<uint8_t>(KeyType::ed25519))
        return false;
    k.type = static_cast<KeyType>(type);
    if (version < 2)
        return true;
    return r.boolean(k.always_authenticate) && r.u32(k.decrypt_support) &&
           r.text(k.certificate_label, kMaxTextSize);
}

void write_key(Writer& w, const KeyEntry& k, uint32_t version) {
    w.string(k.id)
        .string(k.uri)
        .string(k.label)
        .string(k.cka_id)
        .string(k.token_label)
        .string(k.token_serial)
        .u8(static_cast<uint8_t>(k.type))
        .u32(k.bits)
        .u32(k.operations)
        .boolean(k.served)
        .string(k.refusal)
        .string(k.spki)
        .string(k.certificate);
    if (version >= 2)
        w.boolean(k.always_authenticate).u32(k.decrypt_support).string(k.certificate_label);
}

bool read_authority(Reader& r, AuthorityCertificate& a) {
    return r.text(a.token_label, kMaxTextSize) && r.text(a.token_serial, kMaxTextSize) &&
           r.text(a.label, kMaxTextSize) && r.bytes(a.cka_id, kMaxTextSize) &&
           r.bytes(a.certificate, kMaxMessageSize);
}

void write_authority(Writer& w, const AuthorityCertificate& a) {
    w.string(a.token_label)
        .string(a.token_serial)
        .string(a.label)
        .string(a.cka_id)
        .string(a.certificate);
}

// An audit record: u64 seq, string time, u32 field count (at most kMaxAuditFields), then each
// field's name and value.
bool read_audit_record(Reader& r, AuditLogRecord& a) {
    uint32_t count;
    if (!r.u64(a.seq) || !r.text(a.time, kMaxTextSize) || !r.u32(count) || count > kMaxAuditFields)
        return false;
    a.fields.clear();
    for (uint32_t i = 0; i < count; ++i) {
        std::string name, value;
        if (!r.text(name, kMaxTextSize) || !r.text(value, kMaxTextSize))
            return false;
        a.fields.emplace_back(std::move(name), std::move(value));
    }
    return true;
}

void write_audit_record(Writer& w, const AuditLogRecord& a) {
    w.u64(a.seq).string(a.time).u32(static_cast<uint32_t>(a.fields.size()));
    for (const auto& [name, value] : a.fields)
        w.string(name).string(value);
}

template <typename T, typename ReadOne>
bool read_list(Reader& r, std::vector<T>& out, ReadOne read_one) {
    uint32_t count;
    if (!r.u32(count) || count > kMaxListEntries)
        return false;
    // Each entry takes at least one byte: a count larger than what remains is a lie.
    if (count > r.remaining())
        return false;
    // Grown entry by entry, not resized to `count`: an entry is ~300 bytes in memory for ~50 on
    // the wire, so a lying count must not allocate before its entries are actually present.
    out.clear();
    for (uint32_t i = 0; i < count; ++i) {
        T entry;
        if (!read_one(r, entry))
            return false;
        out.push_back(std::move(entry));
    }
    return true;
}

Result<Reply> decode_body(uint8_t type, Reader& r, uint32_t version) {
    if (type == kErrorReply) {
        ErrorReply m;
        uint32_t code;
        if (!r.u32(code) || !r.u64(m.ckr) || !r.u64(m.token_flags) ||
            !r.text(m.message, kMaxTextSize)) {
            return malformed_reply("error");
        }
        if (code < 1 || code > static_cast<uint32_t>(ErrorCode::internal))
            code = 16;
        m.code = static_cast<ErrorCode>(code);
        return Reply(std::move(m));
    }
    if ((type & kReplyBit) == 0)
        return malformed_reply("not a reply");
    switch (static_cast<MessageType>(type & ~kReplyBit)) {
        case MessageType::hello: {
            HelloReply m;
            if (!r.u32(m.version) || !r.text(m.agent, kMaxTextSize))
                return malformed_reply("hello");
            return Reply(std::move(m));
        }
        case MessageType::status: {
            StatusReply m;
            if (!r.text(m.agent, kMaxTextSize) || !r.u32(m.pid) ||
                !r.text(m.socket, kMaxTextSize) || !r.text(m.ssh_socket, kMaxTextSize) ||
                !read_list(r, m.tokens, read_token)) {
                return malformed_reply("status");
            }
            return Reply(std::move(m));
        }
        case MessageType::list_keys: {
            ListKeysReply m;
            auto read_one = [version](Reader& in, KeyEntry& k) { return read_key(in, k, version); };
            if (!read_list(r, m.keys, read_one))
                return malformed_reply("list-keys");
            if (version >= 2 && !read_list(r, m.authorities, read_authority))
                return malformed_reply("list-keys: authority certificates");
            return Reply(std::move(m));
        }
        case MessageType::sign: {
            SignReply m;
            if (!r.bytes(m.signature, kMaxMessageSize))
                return malformed_reply("sign");
            return Reply(std::move(m));
        }
        case MessageType::decrypt: {
            DecryptReply m;
            if (!r.bytes(m.plaintext, kMaxMessageSize))
                return malformed_reply("decrypt");
            return Reply(std::move(m));
        }
        case MessageType::derive: {
            DeriveReply m;
            if (!r.bytes(m.secret, kMaxMessageSize))
                return malformed_reply("derive");
            return Reply(std::move(m));
        }
        case MessageType::unlock: {
            UnlockReply m;
            if (!r.text(m.token_label, kMaxTextSize) || !r.boolean(m.already_unlocked)) {
                return malformed_reply("unlock");
            }
            return Reply(std::move(m));
        }
        case MessageType::lock: {
            LockReply m;
            if (!r.u32(m.locked))
                return malformed_reply("lock");
            return Reply(m);
        }
        case MessageType::random: {
            RandomReply m;
            if (!r.bytes(m.data, kMaxRandomSize))
                return malformed_reply("random");
            return Reply(std::move(m));
        }
        case MessageType::audit_log: {
            AuditLogReply m;
            if (!read_list(r, m.records, read_audit_record) ||
                m.records.size() > kMaxAuditRecords || !r.u32(m.omitted))
                return malformed_reply("audit-log");
            return Reply(std::move(m));
        }
    }
    return malformed_reply("unknown reply type");
}

uint8_t reply_type(const Reply& reply) {
    return std::visit(
        [](const auto& m) -> uint8_t {
            using T = std::decay_t<decltype(m)>;
            auto t = [](MessageType mt) { return static_cast<uint8_t>(kReplyBit | uint8_t(mt)); };
            if constexpr (std::is_same_v<T, HelloReply>)
                return t(MessageType::hello);
            if constexpr (std::is_same_v<T, StatusReply>)
                return t(MessageType::status);
            if constexpr (std::is_same_v<T, ListKeysReply>)
                return t(MessageType::list_keys);
            if constexpr (std::is_same_v<T, SignReply>)
                return t(MessageType::sign);
            if constexpr (std::is_same_v<T, DecryptReply>)
                return t(MessageType::decrypt);
            if constexpr (std::is_same_v<T, DeriveReply>)
                return t(MessageType::derive);
            if constexpr (std::is_same_v<T, UnlockReply>)
                return t(MessageType::unlock);
            if constexpr (std::is_same_v<T, LockReply>)
                return t(MessageType::lock);
            if constexpr (std::is_same_v<T, RandomReply>)
                return t(MessageType::random);
            if constexpr (std::is_same_v<T, AuditLogReply>)
                return t(MessageType::audit_log);
            if constexpr (std::is_same_v<T, ErrorReply>)
                return kErrorReply;
        },
        reply);
}

void encode_body(Writer& w, const Reply& reply, uint32_t version) {
    std::visit(
        [&](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, HelloReply>) {
                w.u32(m.version).string(m.agent);
            } else if constexpr (std::is_same_v<T, StatusReply>) {
                w.string(m.agent).u32(m.pid).string(m.socket).string(m.ssh_socket);
                w.u32(static_cast<uint32_t>(m.tokens.size()));
                for (const auto& t : m.tokens)
                    write_token(w, t);
            } else if constexpr (std::is_same_v<T, ListKeysReply>) {
                w.u32(static_cast<uint32_t>(m.keys.size()));
                for (const auto& k : m.keys)
                    write_key(w, k, version);
                if (version >= 2) {
                    w.u32(static_cast<uint32_t>(m.authorities.size()));
                    for (const auto& a : m.authorities)
                        write_authority(w, a);
                }
            } else if constexpr (std::is_same_v<T, SignReply>) {
                w.string(m.signature);
            } else if constexpr (std::is_same_v<T, DecryptReply>) {
                w.string(m.plaintext);
            } else if constexpr (std::is_same_v<T, DeriveReply>) {
                w.string(m.secret);
            } else if constexpr (std::is_same_v<T, UnlockReply>) {
                w.string(m.token_label).boolean(m.already_unlocked);
            } else if constexpr (std::is_same_v<T, LockReply>) {
                w.u32(m.locked);
            } else if constexpr (std::is_same_v<T, RandomReply>) {
                w.string(m.data);
            } else if constexpr (std::is_same_v<T, AuditLogReply>) {
                w.u32(static_cast<uint32_t>(m.records.size()));
                for (const auto& a : m.records)
                    write_audit_record(w, a);
                w.u32(m.omitted);
            } else if constexpr (std::is_same_v<T, ErrorReply>) {
                w.u32(static_cast<uint32_t>(m.code))
                    .u64(m.ckr)
                    .u64(m.token_flags)
                    .string(m.message);
            }
        },
        reply);
}

}  // namespace

Result<ReplyFrame> decode_reply(std::span<const uint8_t> body, uint32_t version) {
    if (body.size() > kMaxMessageSize)
        return malformed_reply("too large");
    Reader r(body);
    uint8_t type;
    ReplyFrame frame;
    if (!r.u8(type) || !r.u32(frame.id))
        return malformed_reply("truncated header");
    ATTACHE_TRY(frame.reply, decode_body(type, r, version));
    if (!r.at_end())
        return malformed_reply("trailing bytes");
    return frame;
}

Bytes encode_reply(uint32_t id, const Reply& reply, uint32_t version) {
    Writer w;
    w.u32(0).u8(reply_type(reply)).u32(id);
    encode_body(w, reply, version);
    w.patch_length(0);
    return w.take();
}

}  // namespace attache::protocol
