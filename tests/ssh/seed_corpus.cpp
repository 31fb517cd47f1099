#include "tests/ssh/seed_corpus.h"

#include <openssl/evp.h>

#include "agent/ssh/constraints.h"
#include "agent/ssh/framing.h"
#include "agent/ssh/keys.h"
#include "agent/ssh/messages.h"
#include "agent/ssh/sign_payload.h"
#include "pkcs11/public_key.h"

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

p11::Pkey seed_host_key() {
    const Bytes seed(32, 0x2a);
    return p11::Pkey(
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
}

Bytes sshsig_data(std::string_view ns) {
    Writer w;
    w.raw(as_bytes(kSshsigMagic)).string(ns).string("").string("sha512").string(Bytes(64, 0x33));
    return w.take();
}

Bytes hostbound_userauth_data(ByteView key_blob) {
    Writer w;
    w.string(Bytes(32, 0x9d)).u8(50).string("alice").string("ssh-connection");
    w.string(kMethodHostbound).boolean(true).string("ssh-ed25519").string(key_blob);
    w.string(seed_host_key_blob());
    return w.take();
}

Bytes mode(std::uint8_t m, std::initializer_list<Bytes> parts) {
    Bytes out{m};
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// A session-bind record of ssh_payload_fuzzer's mode 1 (the extension's fields, no framing).
Bytes bind_record(ByteView hostkey, ByteView sid, ByteView sig, bool forwarding) {
    Writer w;
    w.string(hostkey).string(sid).string(sig).u8(forwarding ? 1 : 0);
    return w.take();
}

}  // namespace

Bytes seed_host_key_blob() {
    auto blob = public_key_blob(seed_host_key().get());
    return blob ? *blob : Bytes{};
}

Bytes seed_host_signature(ByteView session_id) {
    const p11::Pkey key = seed_host_key();
    Bytes sig(64);
    size_t length = sig.size();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx, sig.data(), &length, session_id.data(), session_id.size()) != 1)
        length = 0;
    EVP_MD_CTX_free(ctx);
    sig.resize(length);
    Writer w;
    w.string("ssh-ed25519").string(sig);
    return w.take();
}

Bytes ssh_add_destination_constraints() {
    return Bytes{
        0xff, 0x00, 0x00, 0x00, 0x24, 0x72, 0x65, 0x73, 0x74, 0x72, 0x69, 0x63, 0x74, 0x2d, 0x64,
        0x65, 0x73, 0x74, 0x69, 0x6e, 0x61, 0x74, 0x69, 0x6f, 0x6e, 0x2d, 0x76, 0x30, 0x30, 0x40,
        0x6f, 0x70, 0x65, 0x6e, 0x73, 0x73, 0x68, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x00, 0x69,
        0x00, 0x00, 0x00, 0x65, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x09, 0x6c, 0x6f, 0x63, 0x61, 0x6c, 0x68, 0x6f, 0x73, 0x74, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x33, 0x00, 0x00, 0x00, 0x0b, 0x73, 0x73, 0x68, 0x2d, 0x65, 0x64, 0x32,
        0x35, 0x35, 0x31, 0x39, 0x00, 0x00, 0x00, 0x20, 0xaa, 0x3e, 0xfd, 0x27, 0x95, 0x52, 0x03,
        0x5c, 0xb2, 0xa9, 0x6b, 0x7b, 0xd9, 0xbe, 0x1e, 0xb1, 0x4f, 0x03, 0x86, 0xc8, 0x1b, 0xb8,
        0x3b, 0x36, 0x4b, 0x48, 0x82, 0xa7, 0xf9, 0x7a, 0x92, 0xd9, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
}

std::vector<Seed> payload_seed_corpus() {
    std::vector<Seed> seeds;
    auto add = [&](std::string name, Bytes bytes) {
        seeds.push_back(Seed{std::move(name), std::move(bytes)});
    };
    auto key = [](ByteView blob) {
        Writer w;
        w.string(blob);
        return w.take();
    };
    const Bytes sid(32, 0x9d);
    const Bytes host = seed_host_key_blob();

    // Mode 0: sign data for a key.
    add("01-userauth-publickey", mode(0, {key(p256_blob()), userauth_data()}));
    add("02-userauth-hostbound",
        mode(0, {key(ed25519_blob()), hostbound_userauth_data(ed25519_blob())}));
    add("03-sshsig-git", mode(0, {key(ed25519_blob()), sshsig_data("git")}));
    add("04-sshsig-evil", mode(0, {key(ed25519_blob()), sshsig_data("evil")}));
    add("05-other-bytes", mode(0, {key(rsa_blob()), to_bytes("not a userauth request")}));
    // Mode 1: binds, then sign data on the bound connection.
    add("06-bind-then-userauth", mode(1, {bind_record(host, sid, seed_host_signature(sid), false),
                                          hostbound_userauth_data(host)}));
    add("07-forwarded-chain",
        mode(1, {bind_record(host, Bytes(32, 1), seed_host_signature(Bytes(32, 1)), true),
                 bind_record(host, sid, seed_host_signature(sid), false), sshsig_data("git")}));
    {
        Bytes bad = seed_host_signature(sid);
        bad.back() ^= 1;
        add("08-bad-signature-bind",
            mode(1, {bind_record(host, sid, bad, false), userauth_data()}));
    }
    add("09-bind-other-key-types", mode(1, {bind_record(p256_blob(), sid, Bytes(20, 1), false),
                                            bind_record(rsa_blob(), sid, Bytes(20, 2), true)}));
    // Mode 2: constraints.
    add("10-constraints-lifetime-confirm", mode(2, {Bytes{1, 0, 0, 0, 60, 2}}));
    add("11-constraints-ssh-add-h", mode(2, {ssh_add_destination_constraints()}));
    {
        KeyConstraints certs;
        certs.certificates = AssociatedCerts{false, {ed25519_blob()}};
        add("12-constraints-certs", mode(2, {encode_constraints(certs)}));
    }
    add("13-constraints-unknown", mode(2, {Bytes{3, 0, 0, 0, 1}}));
    return seeds;
}

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

    // What the SSH socket now checks: a verifying session-bind, SSHSIG and X.509-like data to
    // sign, ssh-add -h constraints.
    {
        const Bytes sid(32, 0x9d);
        add("26-session-bind-verifies",
            encode_request(
                SessionBind{seed_host_key_blob(), sid, seed_host_signature(sid), false}));
    }
    add("27-sign-sshsig", encode_request(SignRequest{ed25519_blob(), sshsig_data("git"), 0}));
    add("28-add-smartcard-key-destination",
        encode_request(
            AddSmartcardKey{"/usr/lib/p11.so", secret(""), ssh_add_destination_constraints()}));
    return seeds;
}

}  // namespace attache::ssh::testing
