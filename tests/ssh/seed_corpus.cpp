#include "tests/ssh/seed_corpus.h"

#include "agent/ssh/framing.h"
#include "agent/ssh/messages.h"

namespace attache::ssh::testing {
namespace {

Secret secret(std::string_view s) {
    Secret out;
    (void)Secret::from(s, out);
    return out;
}

Bytes ed25519_blob() {
    Writer w;
    w.string("ssh-ed25519").string(Bytes(32, 0x5e));
    return w.take();
}

Bytes p256_blob() {
    Bytes point(65, 0x3c);
    point[0] = 0x04;
    Writer w;
    w.string("ecdsa-sha2-nistp256").string("nistp256").string(point);
    return w.take();
}

Bytes rsa_blob() {
    Bytes n(257, 0xc5);
    n[0] = 0x00;
    Writer w;
    w.string("ssh-rsa").string(Bytes{0x01, 0x00, 0x01}).string(n);
    return w.take();
}

// What ssh sends to sign a publickey userauth request (RFC 4252 section 7), shortened.
Bytes userauth_data() {
    Writer w;
    w.string(Bytes(32, 0x9d)).u8(50).string("alice").string("ssh-connection").string("publickey");
    w.boolean(true).string("ecdsa-sha2-nistp256").string(p256_blob());
    return w.take();
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

Bytes framed(std::initializer_list<std::uint8_t> body) {
    return frame(Bytes(body));
}

}  // namespace

std::vector<Seed> seed_corpus() {
    std::vector<Seed> seeds;
    auto add = [&](std::string name, Bytes bytes) {
        seeds.push_back(Seed{std::move(name), std::move(bytes)});
    };

    // Valid requests, one of each type.
    add("01-request-identities", encode_request(RequestIdentities{}));
    add("02-sign-ecdsa", encode_request(SignRequest{p256_blob(), userauth_data(), 0}));
    add("03-sign-rsa-sha2-512",
        encode_request(SignRequest{rsa_blob(), userauth_data(), SSH_AGENT_RSA_SHA2_512}));
    add("04-sign-ed25519", encode_request(SignRequest{ed25519_blob(), to_bytes("data"), 0}));
    {
        Writer w;
        w.u8(SSH_AGENTC_ADD_IDENTITY).string("ssh-ed25519").string(Bytes(32, 1));
        w.string(Bytes(64, 2)).string("comment");
        add("05-add-identity", frame(w.bytes()));
    }
    add("06-remove-identity", encode_request(RemoveIdentity{ed25519_blob()}));
    add("07-remove-all-identities", encode_request(RemoveAllIdentities{}));
    add("08-add-smartcard-key",
        encode_request(AddSmartcardKey{"/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
                                       secret("123456"), std::nullopt}));
    add("09-add-smartcard-key-constrained",
        encode_request(AddSmartcardKey{"/usr/lib/p11.so", secret(""), Bytes{2, 1, 0, 0, 0, 60}}));
    add("10-remove-smartcard-key",
        encode_request(RemoveSmartcardKey{"/usr/lib/p11.so", secret("123456")}));
    add("11-lock", encode_request(Lock{secret("correct horse")}));
    add("12-unlock", encode_request(Unlock{secret("correct horse")}));
    add("13-extension-query", encode_request(ExtensionQuery{}));
    add("14-extension-session-bind",
        encode_request(SessionBind{ed25519_blob(), Bytes(32, 0xee), Bytes(83, 0x51), false}));
    add("15-extension-other", encode_request(Extension{"foo@example.com", Bytes{1, 2, 3}}));
    add("16-unknown-type", framed({1}));
    // A session: several frames back to back.
    add("17-pipelined", cat({encode_request(ExtensionQuery{}), encode_request(RequestIdentities{}),
                             encode_request(SignRequest{ed25519_blob(), to_bytes("x"), 0})}));
    // Responses (what a client reads): decode_response gets them too.
    add("18-identities-answer",
        encode_identities({{ed25519_blob(), "alice@laptop"}, {p256_blob(), "token"}}));
    add("19-query-response", encode_query_response({"query", "session-bind@openssh.com"}));

    // Malformed ones.
    add("20-truncated-string", framed({13, 0, 0, 0, 9, 's', 's', 'h'}));
    add("21-lying-length-ffffffff", framed({22, 0xff, 0xff, 0xff, 0xff, 'p', 'w'}));
    add("22-trailing-garbage", framed({11, 0}));
    add("23-zero-length-frame", Bytes{0, 0, 0, 0, 11});
    add("24-oversize-frame", Bytes{0x00, 0x04, 0x00, 0x01, 11});
    add("25-partial-frame", Bytes{0, 0, 0, 9, 13, 0, 0});
    return seeds;
}

}  // namespace attache::ssh::testing
