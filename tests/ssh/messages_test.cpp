#include "agent/ssh/messages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/ssh/framing.h"
#include "tests/ssh/alloc_probe.h"

namespace attache::ssh {
namespace {

Secret secret(std::string_view s) {
    Secret out;
    EXPECT_TRUE(Secret::from(s, out));
    return out;
}

std::string str(const Secret& s) {
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

// The body of a frame (drops the 4-byte length after checking it).
Bytes body(const Bytes& frame) {
    EXPECT_GE(frame.size(), 4u);
    Reader r(frame);
    EXPECT_EQ(*r.u32(), frame.size() - 4);
    return Bytes(frame.begin() + 4, frame.end());
}

Bytes key_blob() {
    Writer w;
    w.string("ssh-ed25519").string(Bytes(32, 0x11));
    return w.take();
}

template <typename T>
T decode_as(const Bytes& b) {
    auto r = decode_request(b);
    EXPECT_TRUE(r) << r.error().message();
    if (!r)
        return T{};
    EXPECT_TRUE(std::holds_alternative<T>(*r)) << "index " << r->index();
    if (!std::holds_alternative<T>(*r))
        return T{};
    return std::get<T>(std::move(*r));
}

// A body of every request type whose contents are fully structured (no "rest of message"
// field), so any truncation or trailing byte must make the decode fail.
std::vector<Bytes> structured_bodies() {
    std::vector<Bytes> out;
    out.push_back(body(encode_request(RequestIdentities{})));
    out.push_back(body(encode_request(SignRequest{key_blob(), to_bytes("data to sign"), 2})));
    out.push_back(body(encode_request(RemoveIdentity{key_blob()})));
    out.push_back(body(encode_request(RemoveAllIdentities{})));
    out.push_back(body(encode_request(
        AddSmartcardKey{"/usr/lib/x86_64-linux-gnu/attache-pkcs11.so", secret("123456"), {}})));
    out.push_back(body(encode_request(RemoveSmartcardKey{"/usr/lib/p11.so", secret("1234")})));
    out.push_back(body(encode_request(Lock{secret("hunter2")})));
    out.push_back(body(encode_request(Unlock{secret("hunter2")})));
    out.push_back(body(encode_request(ExtensionQuery{})));
    out.push_back(body(encode_request(
        SessionBind{key_blob(), Bytes(32, 0x22), to_bytes("host signature"), true})));
    return out;
}

TEST(Messages, Constants) {
    EXPECT_EQ(SSH_AGENT_FAILURE, 5);
    EXPECT_EQ(SSH_AGENT_SUCCESS, 6);
    EXPECT_EQ(SSH_AGENTC_REQUEST_IDENTITIES, 11);
    EXPECT_EQ(SSH_AGENT_IDENTITIES_ANSWER, 12);
    EXPECT_EQ(SSH_AGENTC_SIGN_REQUEST, 13);
    EXPECT_EQ(SSH_AGENT_SIGN_RESPONSE, 14);
    EXPECT_EQ(SSH_AGENTC_ADD_IDENTITY, 17);
    EXPECT_EQ(SSH_AGENTC_REMOVE_IDENTITY, 18);
    EXPECT_EQ(SSH_AGENTC_REMOVE_ALL_IDENTITIES, 19);
    EXPECT_EQ(SSH_AGENTC_ADD_SMARTCARD_KEY, 20);
    EXPECT_EQ(SSH_AGENTC_REMOVE_SMARTCARD_KEY, 21);
    EXPECT_EQ(SSH_AGENTC_LOCK, 22);
    EXPECT_EQ(SSH_AGENTC_UNLOCK, 23);
    EXPECT_EQ(SSH_AGENTC_ADD_ID_CONSTRAINED, 25);
    EXPECT_EQ(SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED, 26);
    EXPECT_EQ(SSH_AGENTC_EXTENSION, 27);
    EXPECT_EQ(SSH_AGENT_EXTENSION_FAILURE, 28);
    EXPECT_EQ(SSH_AGENT_RSA_SHA2_256, 2u);
    EXPECT_EQ(SSH_AGENT_RSA_SHA2_512, 4u);
    EXPECT_EQ(message_name(13), "SSH_AGENTC_SIGN_REQUEST");
    EXPECT_EQ(message_name(200), "message type 200");
}

TEST(DecodeRequest, RequestIdentities) {
    decode_as<RequestIdentities>(Bytes{11});
}

TEST(DecodeRequest, SignRequestFromHandWrittenBytes) {
    const Bytes b = {13, 0, 0, 0, 3, 'k', 'e', 'y', 0, 0, 0, 2, 'h', 'i', 0, 0, 0, 4};
    auto m = decode_as<SignRequest>(b);
    EXPECT_EQ(m.key_blob, to_bytes("key"));
    EXPECT_EQ(m.data, to_bytes("hi"));
    EXPECT_EQ(m.flags, SSH_AGENT_RSA_SHA2_512);
}

TEST(DecodeRequest, SignRequestRoundTrip) {
    const Bytes data(5000, 0x33);
    auto m = decode_as<SignRequest>(body(encode_request(SignRequest{key_blob(), data, 6})));
    EXPECT_EQ(m.key_blob, key_blob());
    EXPECT_EQ(m.data, data);
    EXPECT_EQ(m.flags, 6u);
}

TEST(DecodeRequest, AddIdentityContentsAreIgnored) {
    Writer w;
    w.u8(SSH_AGENTC_ADD_IDENTITY).string("ssh-ed25519").string(Bytes(32, 1)).string(Bytes(64, 2));
    w.string("comment");
    EXPECT_FALSE(decode_as<AddIdentity>(w.bytes()).constrained);

    Writer c;
    c.u8(SSH_AGENTC_ADD_ID_CONSTRAINED).string("whatever").u8(1).u32(60);
    EXPECT_TRUE(decode_as<AddIdentity>(c.bytes()).constrained);
    EXPECT_TRUE(decode_as<AddIdentity>(Bytes{SSH_AGENTC_ADD_IDENTITY}).constrained == false);
}

TEST(DecodeRequest, RemoveIdentity) {
    auto m = decode_as<RemoveIdentity>(body(encode_request(RemoveIdentity{key_blob()})));
    EXPECT_EQ(m.key_blob, key_blob());
}

TEST(DecodeRequest, RemoveAllIdentities) {
    decode_as<RemoveAllIdentities>(Bytes{19});
}

TEST(DecodeRequest, AddSmartcardKey) {
    // As "ssh-add -s /usr/lib/module.so" sends it.
    Writer w;
    w.u8(SSH_AGENTC_ADD_SMARTCARD_KEY).string("/usr/lib/module.so").string("123456");
    auto m = decode_as<AddSmartcardKey>(w.bytes());
    EXPECT_EQ(m.reader_id, "/usr/lib/module.so");
    EXPECT_EQ(str(m.pin), "123456");
    EXPECT_FALSE(m.constraints);
}

TEST(DecodeRequest, AddSmartcardKeyConstrained) {
    // "ssh-add -c -t 60 -s MODULE": confirm, lifetime 60 s.
    Writer w;
    w.u8(SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED).string("/m.so").string("");
    w.u8(2).u8(1).u32(60);
    auto m = decode_as<AddSmartcardKey>(w.bytes());
    EXPECT_EQ(m.reader_id, "/m.so");
    EXPECT_TRUE(m.pin.empty());
    ASSERT_TRUE(m.constraints);
    EXPECT_EQ(*m.constraints, (Bytes{2, 1, 0, 0, 0, 60}));
    // Round trip.
    auto again = decode_as<AddSmartcardKey>(body(encode_request(std::move(m))));
    ASSERT_TRUE(again.constraints);
    EXPECT_EQ(again.constraints->size(), 6u);
}

TEST(DecodeRequest, RemoveSmartcardKey) {
    auto m = decode_as<RemoveSmartcardKey>(
        body(encode_request(RemoveSmartcardKey{"/usr/lib/p11.so", secret("0000")})));
    EXPECT_EQ(m.reader_id, "/usr/lib/p11.so");
    EXPECT_EQ(str(m.pin), "0000");
}

TEST(DecodeRequest, LockAndUnlock) {
    EXPECT_EQ(str(decode_as<Lock>(body(encode_request(Lock{secret("pass phrase")}))).passphrase),
              "pass phrase");
    EXPECT_EQ(str(decode_as<Unlock>(body(encode_request(Unlock{secret("x")}))).passphrase), "x");
    const Bytes hand = {23, 0, 0, 0, 2, 'p', 'w'};
    EXPECT_EQ(str(decode_as<Unlock>(hand).passphrase), "pw");
}

TEST(DecodeRequest, SecretsUpToTheCapacity) {
    Writer ok;
    ok.u8(SSH_AGENTC_LOCK).string(std::string(Secret::kCapacity, 'p'));
    EXPECT_EQ(decode_as<Lock>(ok.bytes()).passphrase.size(), Secret::kCapacity);

    Writer big;
    big.u8(SSH_AGENTC_LOCK).string(std::string(Secret::kCapacity + 1, 'p'));
    auto r = decode_request(big.bytes());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("SSH_AGENTC_LOCK: passphrase"), std::string::npos)
        << r.error().message();
}

TEST(DecodeRequest, ReaderIdWithNulIsRefused) {
    Writer w;
    w.u8(SSH_AGENTC_ADD_SMARTCARD_KEY).string(std::string("/lib/a.so\0/evil", 15)).string("1");
    auto r = decode_request(w.bytes());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("NUL"), std::string::npos);
}

TEST(DecodeRequest, ExtensionQuery) {
    Writer w;
    w.u8(SSH_AGENTC_EXTENSION).string("query");
    decode_as<ExtensionQuery>(w.bytes());
}

TEST(DecodeRequest, SessionBind) {
    Writer w;
    w.u8(SSH_AGENTC_EXTENSION).string("session-bind@openssh.com");
    w.string(key_blob()).string(Bytes(32, 0xaa)).string("sig").boolean(false);
    auto m = decode_as<SessionBind>(w.bytes());
    EXPECT_EQ(m.hostkey, key_blob());
    EXPECT_EQ(m.session_id, Bytes(32, 0xaa));
    EXPECT_EQ(m.signature, to_bytes("sig"));
    EXPECT_FALSE(m.is_forwarding);

    auto f = decode_as<SessionBind>(body(encode_request(SessionBind{{1}, {2}, {3}, true})));
    EXPECT_TRUE(f.is_forwarding);
    EXPECT_EQ(f.signature, Bytes{3});
}

TEST(DecodeRequest, OtherExtensionKeepsItsContents) {
    Writer w;
    w.u8(SSH_AGENTC_EXTENSION).string("foo@example.com").raw(Bytes{1, 2, 3});
    auto m = decode_as<Extension>(w.bytes());
    EXPECT_EQ(m.name, "foo@example.com");
    EXPECT_EQ(m.contents, (Bytes{1, 2, 3}));
    auto again = decode_as<Extension>(body(encode_request(std::move(m))));
    EXPECT_EQ(again.contents, (Bytes{1, 2, 3}));
}

TEST(DecodeRequest, UnknownTypes) {
    for (int t : {0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 14, 24, 28, 29, 30, 100, 255}) {
        auto m = decode_as<Unknown>(Bytes{std::uint8_t(t), 1, 2, 3});
        EXPECT_EQ(m.type, t);
        EXPECT_EQ(decode_as<Unknown>(Bytes{std::uint8_t(t)}).type, t);
    }
}

TEST(DecodeRequest, EmptyBodyFails) {
    EXPECT_FALSE(decode_request(ByteView{}));
}

TEST(DecodeRequest, EveryStructuredTypeRoundTrips) {
    for (const Bytes& b : structured_bodies()) {
        auto r = decode_request(b);
        ASSERT_TRUE(r) << message_name(b[0]) << ": " << r.error().message();
        EXPECT_EQ(body(encode_request(*r)), b) << message_name(b[0]);
    }
}

TEST(DecodeRequest, TruncatedAtEveryOffsetFails) {
    for (const Bytes& b : structured_bodies()) {
        for (size_t n = 0; n < b.size(); ++n) {
            auto r = decode_request(ByteView(b).first(n));
            EXPECT_FALSE(r) << message_name(b[0]) << " cut to " << n << " of " << b.size();
        }
    }
}

TEST(DecodeRequest, TruncatedExtensionNameFails) {
    Writer w;
    w.u8(SSH_AGENTC_EXTENSION).string("foo@example.com");
    const Bytes b = w.take();
    for (size_t n = 0; n < b.size(); ++n)
        EXPECT_FALSE(decode_request(ByteView(b).first(n))) << n;
    EXPECT_TRUE(decode_request(b));
}

TEST(DecodeRequest, TrailingGarbageFails) {
    for (Bytes b : structured_bodies()) {
        b.push_back(0);
        auto r = decode_request(b);
        ASSERT_FALSE(r) << message_name(b[0]);
        EXPECT_NE(r.error().message().find("trailing"), std::string::npos) << r.error().message();
    }
}

TEST(DecodeRequest, LyingInnerLengthsFail) {
    const Bytes key = key_blob();
    const Bytes data = to_bytes("data");
    for (std::uint32_t lie : {0xffffffffu, 0x7fffffffu, 0u}) {
        // Sign request: key blob length lies.
        Writer w;
        w.u8(SSH_AGENTC_SIGN_REQUEST)
            .u32(lie == 0 ? std::uint32_t(key.size() + 4 + data.size() + 4 + 1) : lie);
        w.raw(key).string(data).u32(0);
        testing::AllocProbe probe;
        EXPECT_FALSE(decode_request(w.bytes())) << lie;
        EXPECT_LT(probe.largest(), 1024u);
    }
    // Sign request: data length one more than what is left.
    {
        Writer w;
        w.u8(SSH_AGENTC_SIGN_REQUEST).string(key).u32(std::uint32_t(data.size() + 4 + 1));
        w.raw(data).u32(0);
        EXPECT_FALSE(decode_request(w.bytes()));
    }
    // Lock: passphrase length 0xFFFFFFFF.
    EXPECT_FALSE(decode_request(Bytes{22, 0xff, 0xff, 0xff, 0xff, 'p', 'w'}));
    // Smartcard: PIN length lies.
    {
        Writer w;
        w.u8(SSH_AGENTC_ADD_SMARTCARD_KEY).string("/m.so").u32(0xffffffff).raw(to_bytes("1234"));
        EXPECT_FALSE(decode_request(w.bytes()));
    }
    // Extension name length lies.
    EXPECT_FALSE(decode_request(Bytes{27, 0xff, 0xff, 0xff, 0xff, 'q'}));
    // Session-bind: the signature length lies.
    {
        Writer w;
        w.u8(SSH_AGENTC_EXTENSION).string("session-bind@openssh.com").string(key).string("id");
        w.u32(0xffffffff).raw(to_bytes("sig")).u8(0);
        auto r = decode_request(w.bytes());
        ASSERT_FALSE(r);
        EXPECT_NE(r.error().message().find("session-bind@openssh.com: signature"),
                  std::string::npos)
            << r.error().message();
    }
}

TEST(DecodeRequest, AnyLengthWindowMutationIsHandled) {
    // Every 4-byte window of every sample replaced by a lying length: decode must not crash
    // (ASan/UBSan builds check the reads) and must not allocate the lie.
    for (const Bytes& original : structured_bodies()) {
        for (size_t i = 1; i + 4 <= original.size(); ++i) {
            for (std::uint32_t lie :
                 {0xffffffffu, std::uint32_t(original.size() - i - 4 + 1), 0x00010000u}) {
                Bytes b = original;
                b[i] = std::uint8_t(lie >> 24);
                b[i + 1] = std::uint8_t(lie >> 16);
                b[i + 2] = std::uint8_t(lie >> 8);
                b[i + 3] = std::uint8_t(lie);
                testing::AllocProbe probe;
                auto r = decode_request(b);
                EXPECT_LE(probe.largest(), b.size() + 512);
            }
        }
    }
}

TEST(DecodeRequest, ErrorsNameTheMessage) {
    auto r = decode_request(Bytes{13, 0, 0, 0, 9});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message().rfind("SSH_AGENTC_SIGN_REQUEST: key blob: ", 0), 0u)
        << r.error().message();
}

TEST(Encode, FixedResponses) {
    EXPECT_EQ(encode_failure(), (Bytes{0, 0, 0, 1, 5}));
    EXPECT_EQ(encode_success(), (Bytes{0, 0, 0, 1, 6}));
    EXPECT_EQ(encode_extension_failure(), (Bytes{0, 0, 0, 1, 28}));
}

TEST(Encode, IdentitiesWireFormat) {
    EXPECT_EQ(encode_identities({}), (Bytes{0, 0, 0, 5, 12, 0, 0, 0, 0}));
    const Bytes one = encode_identities({{to_bytes("K"), "c"}});
    EXPECT_EQ(one, (Bytes{0, 0, 0, 15, 12, 0, 0, 0, 1, 0, 0, 0, 1, 'K', 0, 0, 0, 1, 'c'}));
}

TEST(Encode, IdentitiesRoundTrip) {
    std::vector<Identity> ids = {{key_blob(), "alice@laptop"}, {to_bytes("other"), ""}};
    auto r = decode_response(body(encode_identities(ids)));
    ASSERT_TRUE(r) << r.error().message();
    auto& answer = std::get<IdentitiesAnswer>(*r);
    ASSERT_EQ(answer.identities.size(), 2u);
    EXPECT_EQ(answer.identities[0].key_blob, key_blob());
    EXPECT_EQ(answer.identities[0].comment, "alice@laptop");
    EXPECT_EQ(answer.identities[1].comment, "");
}

TEST(Encode, SignResponse) {
    const Bytes sig = to_bytes("signature blob");
    const Bytes f = encode_sign_response(sig);
    EXPECT_EQ(f[4], SSH_AGENT_SIGN_RESPONSE);
    auto r = decode_response(body(f));
    ASSERT_TRUE(r);
    EXPECT_EQ(std::get<SignResponse>(*r).signature_blob, sig);
}

TEST(Encode, QueryResponse) {
    const Bytes f = encode_query_response({"query", "session-bind@openssh.com"});
    Writer want;
    want.u8(SSH_AGENT_EXTENSION_RESPONSE)
        .string("query")
        .string("query")
        .string("session-bind@openssh.com");
    EXPECT_EQ(body(f), want.bytes());
    auto r = decode_response(body(f));
    ASSERT_TRUE(r);
    auto& ext = std::get<ExtensionResponse>(*r);
    EXPECT_EQ(ext.extension, "query");
    auto names = decode_query_names(ext.contents);
    ASSERT_TRUE(names);
    EXPECT_EQ(*names, (std::vector<std::string>{"query", "session-bind@openssh.com"}));
}

TEST(DecodeResponse, FixedAndUnknown) {
    EXPECT_TRUE(std::holds_alternative<FailureResponse>(*decode_response(Bytes{5})));
    EXPECT_TRUE(std::holds_alternative<SuccessResponse>(*decode_response(Bytes{6})));
    EXPECT_TRUE(std::holds_alternative<ExtensionFailure>(*decode_response(Bytes{28})));
    EXPECT_EQ(std::get<UnknownResponse>(*decode_response(Bytes{99, 1})).type, 99);
    EXPECT_FALSE(decode_response(Bytes{5, 0}));
    EXPECT_FALSE(decode_response(ByteView{}));
}

TEST(DecodeResponse, LyingIdentityCountAllocatesNothing) {
    const Bytes b = {12, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 'K', 0, 0, 0, 0};
    testing::AllocProbe probe;
    auto r = decode_response(b);
    EXPECT_FALSE(r);
    EXPECT_LT(probe.largest(), 512u);
}

TEST(DecodeResponse, TruncatedIdentitiesFail) {
    const Bytes b = body(encode_identities({{key_blob(), "c1"}, {key_blob(), "c2"}}));
    for (size_t n = 0; n < b.size(); ++n)
        EXPECT_FALSE(decode_response(ByteView(b).first(n))) << n;
}

}  // namespace
}  // namespace attache::ssh
