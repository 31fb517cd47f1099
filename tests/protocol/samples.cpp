#include "tests/protocol/samples.h"

#include <string_view>
#include <type_traits>
#include <utility>

#include "pkcs11/agent_protocol/codec.h"

namespace attache::protocol::samples {
namespace {

Bytes pattern(size_t size, uint8_t seed) {
    Bytes b(size);
    for (size_t i = 0; i < size; ++i)
        b[i] = static_cast<uint8_t>(seed + i * 7);
    return b;
}

// Appends "name=value " for each field; strings are quoted, bytes in hex.
class Text {
  public:
    Text& field(std::string_view name, std::string_view v) {
        out_ += std::string(name) + "=\"" + std::string(v) + "\" ";
        return *this;
    }
    Text& field(std::string_view name, const Bytes& v) {
        out_ += std::string(name) + "=" + hex(v) + " ";
        return *this;
    }
    Text& field(std::string_view name, uint64_t v) {
        out_ += std::string(name) + "=" + std::to_string(v) + " ";
        return *this;
    }
    Text& field(std::string_view name, bool v) {
        out_ += std::string(name) + "=" + (v ? "true" : "false") + " ";
        return *this;
    }
    // A hash as its wire code (0 none, 1 SHA-1 ... 4 SHA-512).
    Text& field(std::string_view name, std::optional<p11::Hash> v) {
        return field(name, v ? 1 + static_cast<uint64_t>(*v) : uint64_t{0});
    }
    template <typename E>
    requires std::is_enum_v<E> Text& field(std::string_view name, E v) {
        return field(name, static_cast<uint64_t>(v));
    }
    Text& raw(std::string_view s) {
        out_ += s;
        return *this;
    }
    std::string take() { return std::move(out_); }

  private:
    std::string out_;
};

void token_text(Text& t, const TokenStatus& s) {
    t.raw("{ ")
        .field("uri", s.uri)
        .field("label", s.label)
        .field("serial", s.serial)
        .field("manufacturer", s.manufacturer)
        .field("model", s.model)
        .field("present", s.present)
        .field("unlocked", s.unlocked)
        .field("flags", s.flags)
        .field("since", s.since)
        .field("lock_reason", s.lock_reason)
        .field("key_count", uint64_t{s.key_count})
        .raw("} ");
}

void key_text(Text& t, const KeyEntry& k) {
    t.raw("{ ")
        .field("id", k.id)
        .field("uri", k.uri)
        .field("label", k.label)
        .field("cka_id", k.cka_id)
        .field("token_label", k.token_label)
        .field("token_serial", k.token_serial)
        .field("type", k.type)
        .field("bits", uint64_t{k.bits})
        .field("operations", uint64_t{k.operations})
        .field("served", k.served)
        .field("refusal", k.refusal)
        .field("spki", k.spki)
        .field("certificate", k.certificate)
        .field("always_authenticate", k.always_authenticate)
        .field("decrypt_support", uint64_t{k.decrypt_support})
        .field("certificate_label", k.certificate_label)
        .raw("} ");
}

void authority_text(Text& t, const AuthorityCertificate& a) {
    t.raw("{ ")
        .field("token_label", a.token_label)
        .field("token_serial", a.token_serial)
        .field("label", a.label)
        .field("cka_id", a.cka_id)
        .field("certificate", a.certificate)
        .raw("} ");
}

void pin_text(Text& t, const char* name, const Secret* pin) {
    if (pin)
        t.field(name, Bytes(pin->data(), pin->data() + pin->size()));
    else
        t.raw(name).raw("=none ");
}

std::shared_ptr<const Secret> test_secret(std::string_view text) {
    Secret s;
    Secret::from(text, s);
    return std::make_shared<const Secret>(std::move(s));
}

}  // namespace

std::vector<RequestSample> requests() {
    std::vector<RequestSample> out;
    auto add = [&](std::string name, uint32_t id, Request r) {
        out.push_back(RequestSample{std::move(name), id, std::move(r)});
    };

    add("hello", 1, HelloRequest{1, 3, "attache-cli 0.1.0 (test)"});
    add("status", 0x01020304, StatusRequest{});
    add("list-keys", 0xfffffffe, ListKeysRequest{});

    SignRequest pss;
    pss.key = "pkcs11:token=alice;object=sign%20key;type=private";
    pss.scheme = SignScheme::rsa_pss;
    pss.hash = p11::Hash::sha384;
    pss.prehashed = true;
    pss.pss_salt_length = 48;
    pss.ecdsa_der = false;
    pss.data = pattern(48, 0x11);
    add("sign-rsa-pss", 7, std::move(pss));

    SignRequest ec;
    ec.key = "k-3f2a9c";
    ec.scheme = SignScheme::ecdsa;
    ec.hash = p11::Hash::sha512;
    ec.prehashed = false;
    ec.pss_salt_length = 0x01020304;  // ignored by ECDSA, but carried as given
    ec.ecdsa_der = true;
    ec.data = pattern(300, 0x5a);
    add("sign-ecdsa-der", 8, std::move(ec));

    SignRequest ed;
    ed.key = "k-ed";
    ed.scheme = SignScheme::eddsa;
    ed.hash = std::nullopt;
    ed.data = to_bytes("message to sign");
    add("sign-eddsa", 9, std::move(ed));

    DecryptRequest oaep;
    oaep.key = "pkcs11:object=decrypt";
    oaep.scheme = DecryptScheme::rsa_oaep;
    oaep.oaep_hash = p11::Hash::sha256;
    oaep.oaep_label = to_bytes("label");
    oaep.data = pattern(256, 0x80);
    add("decrypt-oaep", 10, std::move(oaep));

    DecryptRequest pkcs1;
    pkcs1.key = "k-rsa";
    pkcs1.scheme = DecryptScheme::rsa_pkcs1;
    pkcs1.oaep_hash = p11::Hash::sha1;
    pkcs1.data = pattern(128, 0x03);
    add("decrypt-pkcs1", 11, std::move(pkcs1));

    DeriveRequest derive;
    derive.key = "k-ecdh";
    derive.peer_point = pattern(65, 0x04);
    add("derive", 12, std::move(derive));

    UnlockRequest with_pin;
    with_pin.token = "pkcs11:token=alice";
    with_pin.confirm_final_try = true;
    Secret pin;
    Secret::from(std::string_view("12\0"
                                  "34\xff"
                                  "56",
                                  8),
                 pin);
    with_pin.pin = std::move(pin);
    add("unlock-pin", 13, std::move(with_pin));

    UnlockRequest pin_pad;
    pin_pad.token = "pkcs11:token=pinpad";
    add("unlock-pinpad", 14, std::move(pin_pad));

    add("lock", 15, LockRequest{"pkcs11:token=alice;serial=0123"});
    add("lock-all", 16, LockRequest{""});
    add("random", 0x80000000, RandomRequest{4096});
    add("audit-log", 17, AuditLogRequest{50});

    // Version 2: a CKA_ALWAYS_AUTHENTICATE key's PIN for this one operation.
    SignRequest per_use;
    per_use.key = "k-9c";
    per_use.scheme = SignScheme::ecdsa;
    per_use.hash = p11::Hash::sha256;
    per_use.data = pattern(32, 0x9c);
    per_use.context_pin = test_secret("123456");
    add("sign-context-pin", 17, std::move(per_use));

    DecryptRequest per_use_decrypt;
    per_use_decrypt.key = "k-9d";
    per_use_decrypt.scheme = DecryptScheme::rsa_oaep;
    per_use_decrypt.oaep_hash = p11::Hash::sha1;
    per_use_decrypt.data = pattern(256, 0x9d);
    per_use_decrypt.context_pin = test_secret(std::string_view("0\0009", 3));
    add("decrypt-context-pin", 18, std::move(per_use_decrypt));
    return out;
}

std::vector<ReplySample> replies() {
    std::vector<ReplySample> out;
    auto add = [&](std::string name, uint32_t id, Reply r) {
        out.push_back(ReplySample{std::move(name), id, std::move(r)});
    };

    add("hello", 1, HelloReply{1, "attache-agent 0.1.0"});

    TokenStatus alice;
    alice.uri = "pkcs11:token=alice;serial=0123";
    alice.label = "alice";
    alice.serial = "0123";
    alice.manufacturer = "Yubico";
    alice.model = "YubiKey 5";
    alice.present = true;
    alice.unlocked = true;
    alice.flags = 0x0001040dULL;
    alice.since = 1'700'000'000ULL;
    alice.lock_reason = "";
    alice.key_count = 3;
    TokenStatus gone;
    gone.uri = "pkcs11:token=old";
    gone.label = "old";
    gone.serial = "ffff";
    gone.manufacturer = "m";
    gone.model = "n";
    gone.present = false;
    gone.unlocked = false;
    gone.flags = 0xffffffffffffffffULL;
    gone.since = 42;
    gone.lock_reason = "idle";
    gone.key_count = 0;
    add("status", 2,
        StatusReply{"attache-agent 0.1.0",
                    4242,
                    "/run/user/1000/attache/agent.sock",
                    "/run/user/1000/attache/ssh.sock",
                    {alice, gone}});
    add("status-no-tokens", 3, StatusReply{"a", 1, "s", "", {}});

    KeyEntry rsa;
    rsa.id = "k-3f2a9c";
    rsa.uri = "pkcs11:token=alice;id=%01;type=private";
    rsa.label = "sign key";
    rsa.cka_id = Bytes{0x01};
    rsa.token_label = "alice";
    rsa.token_serial = "0123";
    rsa.type = KeyType::rsa;
    rsa.bits = 3072;
    rsa.operations = kOpSign | kOpDecrypt;
    rsa.served = true;
    rsa.spki = pattern(422, 0x30);
    rsa.certificate = pattern(700, 0x31);
    rsa.always_authenticate = true;
    rsa.decrypt_support = kDecryptPkcs1 | kDecryptOaepSha1;
    rsa.certificate_label = "sign certificate";
    KeyEntry ed;
    ed.id = "k-ed";
    ed.uri = "pkcs11:token=alice;id=%02%03;type=private";
    ed.label = "";
    ed.cka_id = Bytes{0x02, 0x03};
    ed.token_label = "alice";
    ed.token_serial = "0123";
    ed.type = KeyType::ed25519;
    ed.bits = 255;
    ed.operations = 0;
    ed.served = false;
    ed.refusal = "policy: no ed25519";
    ed.spki = pattern(44, 0x30);
    KeyEntry ec = rsa;
    ec.id = "k-ec";
    ec.type = KeyType::ec;
    ec.bits = 256;
    ec.operations = kOpSign | kOpDerive;
    ec.certificate.clear();
    ec.always_authenticate = false;
    ec.decrypt_support = 0;
    ec.certificate_label.clear();
    AuthorityCertificate ca;
    ca.token_label = "alice";
    ca.token_serial = "0123";
    ca.label = "Issuing CA";
    ca.cka_id = Bytes{};
    ca.certificate = pattern(600, 0x32);
    add("list-keys", 4, ListKeysReply{{rsa, ed, ec}, {ca}});
    add("list-keys-empty", 5, ListKeysReply{});

    add("sign", 6, SignReply{pattern(72, 0x30)});
    add("decrypt", 7, DecryptReply{to_bytes("plain text")});
    add("derive", 8, DeriveReply{pattern(32, 0xee)});
    add("unlock", 9, UnlockReply{"alice", true});
    add("unlock-new", 10, UnlockReply{"bob", false});
    add("lock", 11, LockReply{2});
    add("random", 12, RandomReply{pattern(33, 0x99)});
    add("audit-log", 13,
        AuditLogReply{{{7,
                        "2026-12-02T04:05:36.123Z",
                        {{"op", "sign"}, {"via", "ssh"}, {"uid", "1000"}, {"result", "ok"}}},
                       {9, "2026-12-02T04:06:00.000Z", {{"op", "lock"}, {"reason", "sleep"}}}},
                      3});
    add("error", 0xffffffff,
        ErrorReply{ErrorCode::pin_incorrect, 0xa0, 0x00010000, "PIN incorrect, 2 tries left"});
    add("error-bad-request", 0, ErrorReply{ErrorCode::bad_request, 0, 0, ""});
    return out;
}

std::string describe(const Request& request) {
    Text t;
    std::visit(
        [&](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, HelloRequest>) {
                t.raw("hello ")
                    .field("min_version", uint64_t{m.min_version})
                    .field("max_version", uint64_t{m.max_version})
                    .field("client", m.client);
            } else if constexpr (std::is_same_v<T, StatusRequest>) {
                t.raw("status ");
            } else if constexpr (std::is_same_v<T, ListKeysRequest>) {
                t.raw("list-keys ");
            } else if constexpr (std::is_same_v<T, SignRequest>) {
                t.raw("sign ")
                    .field("key", m.key)
                    .field("scheme", m.scheme)
                    .field("hash", m.hash)
                    .field("prehashed", m.prehashed)
                    .field("pss_salt_length", uint64_t{m.pss_salt_length})
                    .field("ecdsa_der", m.ecdsa_der)
                    .field("data", m.data);
                pin_text(t, "context_pin", m.context_pin.get());
            } else if constexpr (std::is_same_v<T, DecryptRequest>) {
                t.raw("decrypt ")
                    .field("key", m.key)
                    .field("scheme", m.scheme)
                    .field("oaep_hash", m.oaep_hash)
                    .field("oaep_label", m.oaep_label)
                    .field("data", m.data);
                pin_text(t, "context_pin", m.context_pin.get());
            } else if constexpr (std::is_same_v<T, DeriveRequest>) {
                t.raw("derive ").field("key", m.key).field("peer_point", m.peer_point);
            } else if constexpr (std::is_same_v<T, UnlockRequest>) {
                t.raw("unlock ")
                    .field("token", m.token)
                    .field("confirm_final_try", m.confirm_final_try);
                pin_text(t, "pin", m.pin ? &*m.pin : nullptr);
            } else if constexpr (std::is_same_v<T, LockRequest>) {
                t.raw("lock ").field("token", m.token);
            } else if constexpr (std::is_same_v<T, RandomRequest>) {
                t.raw("random ").field("length", uint64_t{m.length});
            } else if constexpr (std::is_same_v<T, AuditLogRequest>) {
                t.raw("audit-log ").field("max_records", uint64_t{m.max_records});
            } else {
                static_assert(!sizeof(T), "describe() misses a request type");
            }
        },
        request);
    return t.take();
}

std::string describe(const Reply& reply) {
    Text t;
    std::visit(
        [&](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, HelloReply>) {
                t.raw("hello ").field("version", uint64_t{m.version}).field("agent", m.agent);
            } else if constexpr (std::is_same_v<T, StatusReply>) {
                t.raw("status ")
                    .field("agent", m.agent)
                    .field("pid", uint64_t{m.pid})
                    .field("socket", m.socket)
                    .field("ssh_socket", m.ssh_socket)
                    .raw("tokens=[ ");
                for (const auto& token : m.tokens)
                    token_text(t, token);
                t.raw("] ");
            } else if constexpr (std::is_same_v<T, ListKeysReply>) {
                t.raw("list-keys keys=[ ");
                for (const auto& key : m.keys)
                    key_text(t, key);
                t.raw("] authorities=[ ");
                for (const auto& authority : m.authorities)
                    authority_text(t, authority);
                t.raw("] ");
            } else if constexpr (std::is_same_v<T, SignReply>) {
                t.raw("sign ").field("signature", m.signature);
            } else if constexpr (std::is_same_v<T, DecryptReply>) {
                t.raw("decrypt ").field("plaintext", m.plaintext);
            } else if constexpr (std::is_same_v<T, DeriveReply>) {
                t.raw("derive ").field("secret", m.secret);
            } else if constexpr (std::is_same_v<T, UnlockReply>) {
                t.raw("unlock ")
                    .field("token_label", m.token_label)
                    .field("already_unlocked", m.already_unlocked);
            } else if constexpr (std::is_same_v<T, LockReply>) {
                t.raw("lock ").field("locked", uint64_t{m.locked});
            } else if constexpr (std::is_same_v<T, RandomReply>) {
                t.raw("random ").field("data", m.data);
            } else if constexpr (std::is_same_v<T, AuditLogReply>) {
                t.raw("audit-log records=[ ");
                for (const auto& a : m.records) {
                    t.raw("{ ").field("seq", a.seq).field("time", a.time);
                    for (const auto& [name, value] : a.fields)
                        t.field(name, value);
                    t.raw("} ");
                }
                t.raw("] ").field("omitted", uint64_t{m.omitted});
            } else if constexpr (std::is_same_v<T, ErrorReply>) {
                t.raw("error ")
                    .field("code", m.code)
                    .field("ckr", m.ckr)
                    .field("token_flags", m.token_flags)
                    .field("message", m.message);
            } else {
                static_assert(!sizeof(T), "describe() misses a reply type");
            }
        },
        reply);
    return t.take();
}

Bytes request_body(uint32_t id, const Request& request) {
    Bytes frame = encode_request(id, request);
    return Bytes(frame.begin() + 4, frame.end());
}

Bytes reply_body(uint32_t id, const Reply& reply) {
    Bytes frame = encode_reply(id, reply);
    return Bytes(frame.begin() + 4, frame.end());
}

}  // namespace attache::protocol::samples
