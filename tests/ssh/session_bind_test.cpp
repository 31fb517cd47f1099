#include "agent/ssh/session_bind.h"

#include <gtest/gtest.h>

#include "agent/ssh/messages.h"
#include "tests/ssh/test_keys.h"

namespace attache::ssh {
namespace {

using testing::blob_for;
using testing::key_for;
using testing::ssh_signature;

constexpr KeyType kTypes[] = {KeyType::kRsa, KeyType::kEcdsaP256, KeyType::kEcdsaP384,
                              KeyType::kEcdsaP521, KeyType::kEd25519};

Bytes session_id() {
    return Bytes(32, 0x7e);
}

SessionBind bind_by(KeyType type, std::uint32_t rsa_flags = SSH_AGENT_RSA_SHA2_512) {
    return SessionBind{blob_for(type), session_id(),
                       ssh_signature(key_for(type), rsa_flags, session_id()), false};
}

// The signature blob with its algorithm name replaced.
Bytes renamed(const Bytes& sig, std::string_view algorithm) {
    Reader r(sig);
    (void)r.string();
    Writer w;
    w.string(algorithm).string(*r.string());
    return w.take();
}

TEST(PublicKeyBlob, ParsesEveryTypeBackToTheSameBlob) {
    for (KeyType type : kTypes) {
        auto parsed = parse_public_key_blob(blob_for(type));
        ASSERT_TRUE(parsed) << key_type_name(type) << ": " << parsed.error().message();
        EXPECT_EQ(parsed->type, type);
        auto again = public_key_blob(parsed->key.get());
        ASSERT_TRUE(again);
        EXPECT_EQ(*again, blob_for(type)) << key_type_name(type);
    }
}

TEST(PublicKeyBlob, RefusesMalformedBlobs) {
    Bytes trailing = blob_for(KeyType::kEd25519);
    trailing.push_back(0);
    EXPECT_FALSE(parse_public_key_blob(trailing));

    // A P-256 point under the P-384 name.
    const Bytes p256 = blob_for(KeyType::kEcdsaP256);
    Reader again(p256);
    (void)again.string();
    (void)again.string();
    const ByteView p256_point = *again.string();
    Writer wrong_curve;
    wrong_curve.string("ecdsa-sha2-nistp384").string("nistp256").string(p256_point);
    EXPECT_FALSE(parse_public_key_blob(wrong_curve.bytes()));
    Writer mismatched_name;
    mismatched_name.string("ecdsa-sha2-nistp256").string("nistp384").string(p256_point);
    EXPECT_FALSE(parse_public_key_blob(mismatched_name.bytes()));

    // A point off the curve.
    Bytes off(p256_point.begin(), p256_point.end());
    off.back() ^= 1;
    Writer off_curve;
    off_curve.string("ecdsa-sha2-nistp256").string("nistp256").string(off);
    EXPECT_FALSE(parse_public_key_blob(off_curve.bytes()));

    // A compressed point, a short Ed25519 key, an RSA key below 1024 bits, a certificate.
    Bytes compressed(p256_point.begin(), p256_point.begin() + 33);
    compressed[0] = 0x02;
    Writer c;
    c.string("ecdsa-sha2-nistp256").string("nistp256").string(compressed);
    EXPECT_FALSE(parse_public_key_blob(c.bytes()));
    Writer short_ed;
    short_ed.string("ssh-ed25519").string(Bytes(31, 1));
    EXPECT_FALSE(parse_public_key_blob(short_ed.bytes()));
    Bytes small_n(96, 0xc3);  // 768 bits
    Writer small_rsa;
    small_rsa.string("ssh-rsa").mpint(Bytes{1, 0, 1}).mpint(small_n);
    EXPECT_FALSE(parse_public_key_blob(small_rsa.bytes()));
    Writer even_e;
    even_e.string("ssh-rsa").mpint(Bytes{1, 0, 0}).mpint(Bytes(256, 0xc3));
    EXPECT_FALSE(parse_public_key_blob(even_e.bytes()));
    Writer negative;
    negative.string("ssh-rsa").string(Bytes{1, 0, 1}).string(Bytes(256, 0xc3));
    EXPECT_FALSE(parse_public_key_blob(negative.bytes()));
    Writer cert;
    cert.string("ssh-ed25519-cert-v01@openssh.com").string(Bytes(32, 1));
    EXPECT_FALSE(parse_public_key_blob(cert.bytes()));
    EXPECT_FALSE(parse_public_key_blob(Bytes{}));
}

TEST(VerifySignatureBlob, AcceptsEachKeyTypesOwnSignature) {
    const Bytes data = to_bytes("exchange hash");
    for (KeyType type : kTypes) {
        const Bytes sig = ssh_signature(key_for(type), SSH_AGENT_RSA_SHA2_256, data);
        auto verified = verify_signature_blob(blob_for(type), sig, data);
        EXPECT_TRUE(verified) << key_type_name(type) << ": " << verified.error().message();
        Bytes other = data;
        other.back() ^= 1;
        EXPECT_FALSE(verify_signature_blob(blob_for(type), sig, other)) << key_type_name(type);
        Bytes trailing = sig;
        trailing.push_back(0);
        EXPECT_FALSE(verify_signature_blob(blob_for(type), trailing, data)) << key_type_name(type);
    }
    const Bytes sig512 = ssh_signature(key_for(KeyType::kRsa), SSH_AGENT_RSA_SHA2_512, data);
    EXPECT_TRUE(verify_signature_blob(blob_for(KeyType::kRsa), sig512, data));
}

TEST(VerifySignatureBlob, TheAlgorithmMustBeTheKeys) {
    const Bytes data = to_bytes("exchange hash");
    // RSA: SHA-1 ssh-rsa is refused even when the signature is right.
    const Bytes sha1 = ssh_signature(key_for(KeyType::kRsa), 0, data);
    EXPECT_FALSE(verify_signature_blob(blob_for(KeyType::kRsa), sha1, data));
    // An rsa-sha2-256 signature labelled rsa-sha2-512.
    const Bytes sha256 = ssh_signature(key_for(KeyType::kRsa), SSH_AGENT_RSA_SHA2_256, data);
    EXPECT_FALSE(
        verify_signature_blob(blob_for(KeyType::kRsa), renamed(sha256, "rsa-sha2-512"), data));
    // A P-256 signature labelled with another curve, and another key's signature.
    const Bytes p256 = ssh_signature(key_for(KeyType::kEcdsaP256), 0, data);
    EXPECT_FALSE(verify_signature_blob(blob_for(KeyType::kEcdsaP256),
                                       renamed(p256, "ecdsa-sha2-nistp384"), data));
    EXPECT_FALSE(verify_signature_blob(blob_for(KeyType::kEcdsaP384), p256, data));
    const Bytes ed = ssh_signature(key_for(KeyType::kEd25519), 0, data);
    EXPECT_FALSE(verify_signature_blob(blob_for(KeyType::kEd25519), renamed(ed, "ssh-rsa"), data));
    EXPECT_FALSE(verify_signature_blob(
        blob_for(KeyType::kEd25519),
        ssh_signature(testing::generate(KeyType::kEd25519).get(), 0, data), data));
}

TEST(VerifySignatureBlob, AShortRsaSignatureIsPaddedAsOpenSshDoes) {
    // Find a signature with a leading zero byte, then drop it as some signers do.
    for (int i = 0; i < 2000; ++i) {
        const Bytes data = to_bytes("message " + std::to_string(i));
        const Bytes sig = ssh_signature(key_for(KeyType::kRsa), SSH_AGENT_RSA_SHA2_256, data);
        Reader r(sig);
        (void)r.string();
        const ByteView raw = *r.string();
        if (raw[0] != 0)
            continue;
        Writer shortened;
        shortened.string("rsa-sha2-256").string(raw.subspan(1));
        EXPECT_TRUE(verify_signature_blob(blob_for(KeyType::kRsa), shortened.bytes(), data));
        Writer longer;
        Bytes extra(raw.begin(), raw.end());
        extra.insert(extra.begin(), 0);
        longer.string("rsa-sha2-256").string(extra);
        EXPECT_FALSE(verify_signature_blob(blob_for(KeyType::kRsa), longer.bytes(), data));
        return;
    }
    FAIL() << "no RSA signature with a leading zero in 2000 tries";
}

TEST(VerifySessionBind, ChecksTheHostKeysSignatureOfTheSessionId) {
    for (KeyType type : kTypes) {
        auto verified = verify_session_bind(bind_by(type));
        EXPECT_TRUE(verified) << key_type_name(type) << ": " << verified.error().message();
    }
    SessionBind other_sid = bind_by(KeyType::kEd25519);
    other_sid.session_id[0] ^= 1;
    auto bad = verify_session_bind(other_sid);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find(fingerprint_sha256(other_sid.hostkey)), std::string::npos)
        << bad.error().message();

    SessionBind other_key = bind_by(KeyType::kEd25519);
    other_key.hostkey = blob_for(KeyType::kEcdsaP256);
    EXPECT_FALSE(verify_session_bind(other_key));
}

// An OpenSSH host certificate of the Ed25519 test key (PROTOCOL.certkeys), its CA signature
// left as filler: the agent reads over it.
Bytes host_certificate(size_t drop_tail = 0) {
    const Bytes blob = blob_for(KeyType::kEd25519);
    Reader plain(blob);
    (void)plain.string();
    const ByteView pk = *plain.string();
    Writer w;
    w.string("ssh-ed25519-cert-v01@openssh.com").string(Bytes(32, 7)).string(pk);
    w.raw(Bytes(8, 0)).u32(2).string("host").string("").raw(Bytes(16, 0));
    w.string("").string("").string("").string(blob_for(KeyType::kEcdsaP256)).string(Bytes(8, 1));
    Bytes out = w.take();
    out.resize(out.size() - drop_tail);
    return out;
}

TEST(VerifySessionBind, AcceptsAHostCertificateOfTheSigningKey) {
    SessionBind b = bind_by(KeyType::kEd25519);
    b.hostkey = host_certificate();
    auto verified = verify_session_bind(b);
    EXPECT_TRUE(verified) << verified.error().message();
    auto parsed = parse_host_key_blob(b.hostkey);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->type, KeyType::kEd25519);
    EXPECT_FALSE(parse_public_key_blob(b.hostkey)) << "certificates are host keys only";
    b.hostkey = host_certificate(1);
    EXPECT_FALSE(verify_session_bind(b));
    SessionBind other = bind_by(KeyType::kEcdsaP256);
    other.hostkey = host_certificate();
    EXPECT_FALSE(verify_session_bind(other));
}

TEST(VerifySessionBind, SessionIdLengthIsBounded) {
    SessionBind empty{blob_for(KeyType::kEd25519), {}, {}, false};
    empty.signature = ssh_signature(key_for(KeyType::kEd25519), 0, empty.session_id);
    EXPECT_FALSE(verify_session_bind(empty));

    for (size_t size : {kMaxSessionIdSize, kMaxSessionIdSize + 1}) {
        SessionBind b{blob_for(KeyType::kEd25519), Bytes(size, 0x11), {}, false};
        b.signature = ssh_signature(key_for(KeyType::kEd25519), 0, b.session_id);
        EXPECT_EQ(static_cast<bool>(verify_session_bind(b)), size <= kMaxSessionIdSize) << size;
    }
}

}  // namespace
}  // namespace attache::ssh
