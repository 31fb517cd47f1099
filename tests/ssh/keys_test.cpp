#include "agent/ssh/keys.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "agent/ssh/messages.h"
#include "pkcs11/operations.h"
#include "pkcs11/public_key.h"
#include "tests/ssh/test_keys.h"
#include "tests/support/command.h"
#include "tests/support/temp_dir.h"

namespace attache::ssh {
namespace {

using attache::p11::Pkey;
using attache::testing::describe;
using attache::testing::run_command;
using attache::testing::TempDir;
using attache::testing::write_file;
using testing::generate;
using testing::key_for;
using testing::token_sign;

struct KeyCase {
    const char* label;
    KeyType type;
    size_t bits;
};

const KeyCase kCases[] = {
    {"rsa2048", KeyType::kRsa, 2048},    {"p256", KeyType::kEcdsaP256, 256},
    {"p384", KeyType::kEcdsaP384, 384},  {"p521", KeyType::kEcdsaP521, 521},
    {"ed25519", KeyType::kEd25519, 256},
};

std::string base64_wrapped(ByteView data, size_t width) {
    std::string b64(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), data.data(),
                                  static_cast<int>(data.size()));
    b64.resize(static_cast<size_t>(n));
    std::string out;
    for (size_t i = 0; i < b64.size(); i += width)
        out += b64.substr(i, width) + "\n";
    return out;
}

TEST(KeyType, Names) {
    EXPECT_EQ(key_type_name(KeyType::kRsa), "ssh-rsa");
    EXPECT_EQ(key_type_name(KeyType::kEcdsaP256), "ecdsa-sha2-nistp256");
    EXPECT_EQ(key_type_name(KeyType::kEcdsaP384), "ecdsa-sha2-nistp384");
    EXPECT_EQ(key_type_name(KeyType::kEcdsaP521), "ecdsa-sha2-nistp521");
    EXPECT_EQ(key_type_name(KeyType::kEd25519), "ssh-ed25519");
    EXPECT_EQ(*key_type_from_name("ecdsa-sha2-nistp384"), KeyType::kEcdsaP384);
    EXPECT_FALSE(key_type_from_name("ssh-dss"));
    EXPECT_FALSE(key_type_of_blob(Bytes{0, 0, 0, 9, 's'}));
}

TEST(KeyType, OfUnsupportedKeys) {
    Pkey k256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1"));
    ASSERT_TRUE(k256);
    EXPECT_FALSE(key_type_of(k256.get()));
    Pkey x25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
    ASSERT_TRUE(x25519);
    EXPECT_FALSE(key_type_of(x25519.get()));
    EXPECT_FALSE(public_key_blob(x25519.get()));
}

TEST(PublicKeyBlob, RsaLayout) {
    EVP_PKEY* key = key_for(KeyType::kRsa);
    auto blob = public_key_blob(key);
    ASSERT_TRUE(blob) << blob.error().message();
    Reader r(*blob);
    EXPECT_EQ(as_chars(*r.string()), "ssh-rsa");
    auto e = r.string();
    ASSERT_TRUE(e);
    EXPECT_EQ(Bytes(e->begin(), e->end()), (Bytes{0x01, 0x00, 0x01}));
    auto n = r.string();
    ASSERT_TRUE(n);
    // A 2048-bit modulus has its top bit set: the mpint needs a leading zero.
    ASSERT_EQ(n->size(), 257u);
    EXPECT_EQ((*n)[0], 0);
    EXPECT_NE((*n)[1] & 0x80, 0);
    EXPECT_TRUE(r.expect_end());
}

TEST(PublicKeyBlob, EcdsaLayout) {
    for (auto [type, curve, point_size] : {std::tuple{KeyType::kEcdsaP256, "nistp256", 65u},
                                           std::tuple{KeyType::kEcdsaP384, "nistp384", 97u},
                                           std::tuple{KeyType::kEcdsaP521, "nistp521", 133u}}) {
        auto blob = public_key_blob(key_for(type));
        ASSERT_TRUE(blob) << blob.error().message();
        Reader r(*blob);
        EXPECT_EQ(as_chars(*r.string()), key_type_name(type));
        EXPECT_EQ(as_chars(*r.string()), curve);
        auto q = r.string();
        ASSERT_TRUE(q);
        ASSERT_EQ(q->size(), point_size);
        EXPECT_EQ((*q)[0], 0x04);
        EXPECT_TRUE(r.expect_end());
        EXPECT_EQ(*key_type_of_blob(*blob), type);
    }
}

TEST(PublicKeyBlob, Ed25519Layout) {
    EVP_PKEY* key = key_for(KeyType::kEd25519);
    auto blob = public_key_blob(key);
    ASSERT_TRUE(blob);
    std::uint8_t raw[32];
    size_t raw_len = sizeof(raw);
    ASSERT_EQ(EVP_PKEY_get_raw_public_key(key, raw, &raw_len), 1);
    Writer want;
    want.string("ssh-ed25519").string(ByteView(raw, raw_len));
    EXPECT_EQ(*blob, want.bytes());
}

TEST(Fingerprint, KnownVector) {
    // SHA-256 of nothing.
    EXPECT_EQ(fingerprint_sha256(ByteView{}), "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
}

TEST(AuthorizedKeys, LineShape) {
    const Bytes blob = *public_key_blob(key_for(KeyType::kEd25519));
    auto line = authorized_keys_line(blob, "alice@laptop");
    ASSERT_TRUE(line);
    EXPECT_EQ(line->rfind("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 0), 0u) << *line;
    EXPECT_EQ(line->substr(line->size() - 13), " alice@laptop");
    auto bare = authorized_keys_line(blob, "");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->find(' ', 12), std::string::npos);
    EXPECT_FALSE(authorized_keys_line(blob, "x\nssh-ed25519 AAAA evil"));
    EXPECT_FALSE(authorized_keys_line(blob, std::string("a\0b", 3)));
}

// The fingerprint and the authorized_keys line checked against the real ssh-keygen.
TEST(SshKeygen, FingerprintsMatch) {
    TempDir dir("attache-ssh-keys");
    for (const KeyCase& c : kCases) {
        SCOPED_TRACE(c.label);
        EVP_PKEY* key = key_for(c.type);
        auto blob = public_key_blob(key);
        ASSERT_TRUE(blob) << blob.error().message();
        auto line = authorized_keys_line(key, std::string("attache-") + c.label);
        ASSERT_TRUE(line) << line.error().message();
        const auto path = dir / (std::string(c.label) + ".pub");
        write_file(path, *line + "\n");
        auto r = run_command({"ssh-keygen", "-l", "-E", "sha256", "-f", path.string()});
        ASSERT_EQ(r.exit_code, 0) << describe(r);
        // "256 SHA256:... attache-p256 (ECDSA)"
        std::istringstream out(r.out);
        std::string bits, fingerprint, comment;
        out >> bits >> fingerprint >> comment;
        EXPECT_EQ(bits, std::to_string(c.bits));
        EXPECT_EQ(fingerprint, fingerprint_sha256(*blob));
        EXPECT_EQ(comment, std::string("attache-") + c.label);
    }
}

// ssh-keygen converts the same public key from PEM (SubjectPublicKeyInfo) to its own
// authorized_keys form: the blobs must be byte for byte the same.
TEST(SshKeygen, BlobsMatchItsConversionFromPem) {
    TempDir dir("attache-ssh-keys");
    for (const KeyCase& c : kCases) {
        if (c.type == KeyType::kEd25519)
            continue;  // OpenSSH 9.2 cannot import Ed25519 from PKCS#8 PEM
        SCOPED_TRACE(c.label);
        EVP_PKEY* key = key_for(c.type);
        auto pem = p11::spki_pem(key);
        ASSERT_TRUE(pem) << pem.error().message();
        const auto path = dir / (std::string(c.label) + ".pem");
        write_file(path, *pem);
        auto r = run_command({"ssh-keygen", "-i", "-m", "PKCS8", "-f", path.string()});
        ASSERT_EQ(r.exit_code, 0) << describe(r);
        auto line = authorized_keys_line(key, "");
        ASSERT_TRUE(line);
        std::string theirs = r.out;
        while (!theirs.empty() && (theirs.back() == '\n' || theirs.back() == '\r'))
            theirs.pop_back();
        EXPECT_EQ(theirs, *line);
    }
}

TEST(PlanSignature, RsaFlags) {
    auto sha256 = plan_signature(KeyType::kRsa, SSH_AGENT_RSA_SHA2_256, false);
    ASSERT_TRUE(sha256);
    EXPECT_EQ(sha256->hash, p11::Hash::sha256);
    EXPECT_EQ(sha256->algorithm, "rsa-sha2-256");

    auto sha512 = plan_signature(KeyType::kRsa, SSH_AGENT_RSA_SHA2_512, false);
    ASSERT_TRUE(sha512);
    EXPECT_EQ(sha512->hash, p11::Hash::sha512);
    EXPECT_EQ(sha512->algorithm, "rsa-sha2-512");

    // Both flags: SHA-256, as OpenSSH decides.
    EXPECT_EQ(plan_signature(KeyType::kRsa, 6, false)->algorithm, "rsa-sha2-256");

    auto refused = plan_signature(KeyType::kRsa, 0, false);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message().find("SHA-1"), std::string::npos);

    auto sha1 = plan_signature(KeyType::kRsa, 0, true);
    ASSERT_TRUE(sha1);
    EXPECT_EQ(sha1->hash, p11::Hash::sha1);
    EXPECT_EQ(sha1->algorithm, "ssh-rsa");
}

TEST(PlanSignature, CurvesPickTheirHash) {
    for (std::uint32_t flags : {0u, 2u, 4u}) {
        EXPECT_EQ(plan_signature(KeyType::kEcdsaP256, flags, false)->hash, p11::Hash::sha256);
        EXPECT_EQ(plan_signature(KeyType::kEcdsaP384, flags, false)->hash, p11::Hash::sha384);
        EXPECT_EQ(plan_signature(KeyType::kEcdsaP521, flags, false)->hash, p11::Hash::sha512);
        EXPECT_EQ(plan_signature(KeyType::kEcdsaP521, flags, false)->algorithm,
                  "ecdsa-sha2-nistp521");
        EXPECT_EQ(plan_signature(KeyType::kEd25519, flags, false)->hash, std::nullopt);
        EXPECT_EQ(plan_signature(KeyType::kEd25519, flags, false)->algorithm, "ssh-ed25519");
    }
}

TEST(EncodeSignature, EcdsaMpints) {
    const SignPlan plan = *plan_signature(KeyType::kEcdsaP256, 0, false);
    Bytes raw(64, 0);
    raw[0] = 0x80;  // r: top bit set, needs a 0x00
    raw[31] = 1;
    raw[63] = 0x05;  // s: 0x05, leading zeros dropped
    auto blob = encode_signature(plan, raw);
    ASSERT_TRUE(blob) << blob.error().message();
    Reader r(*blob);
    EXPECT_EQ(as_chars(*r.string()), "ecdsa-sha2-nistp256");
    auto inner = r.string();
    ASSERT_TRUE(inner);
    EXPECT_TRUE(r.expect_end());
    Reader rs(*inner);
    auto rr = rs.string();
    ASSERT_TRUE(rr);
    ASSERT_EQ(rr->size(), 33u);
    EXPECT_EQ((*rr)[0], 0);
    EXPECT_EQ((*rr)[1], 0x80);
    auto ss = rs.string();
    ASSERT_TRUE(ss);
    EXPECT_EQ(Bytes(ss->begin(), ss->end()), Bytes{5});
    EXPECT_TRUE(rs.expect_end());
}

TEST(EncodeSignature, WrongSizesFail) {
    EXPECT_FALSE(encode_signature(*plan_signature(KeyType::kEcdsaP256, 0, false), Bytes(63, 1)));
    EXPECT_FALSE(encode_signature(*plan_signature(KeyType::kEcdsaP384, 0, false), Bytes(64, 1)));
    EXPECT_TRUE(encode_signature(*plan_signature(KeyType::kEcdsaP521, 0, false), Bytes(132, 1)));
    EXPECT_FALSE(encode_signature(*plan_signature(KeyType::kEcdsaP256, 0, false), Bytes(64, 0)));
    EXPECT_FALSE(encode_signature(*plan_signature(KeyType::kEd25519, 0, false), Bytes(63, 1)));
    EXPECT_FALSE(encode_signature(*plan_signature(KeyType::kRsa, 2, false), Bytes{}));
}

TEST(EncodeSignature, RsaAndEd25519Layout) {
    auto rsa = encode_signature(*plan_signature(KeyType::kRsa, 4, false), Bytes(256, 7));
    ASSERT_TRUE(rsa);
    Writer want;
    want.string("rsa-sha2-512").string(Bytes(256, 7));
    EXPECT_EQ(*rsa, want.bytes());
    auto ed = encode_signature(*plan_signature(KeyType::kEd25519, 0, false), Bytes(64, 9));
    ASSERT_TRUE(ed);
    Writer want_ed;
    want_ed.string("ssh-ed25519").string(Bytes(64, 9));
    EXPECT_EQ(*ed, want_ed.bytes());
}

// An SSHSIG (OpenSSH PROTOCOL.sshsig) around a signature blob made by encode_signature, checked
// by `ssh-keygen -Y check-novalidate`: OpenSSH itself accepts the signatures the agent would
// return.
struct SshsigCase {
    KeyType type;
    std::uint32_t flags;
    const char* label;
};

TEST(SshKeygen, AcceptsEncodedSignatures) {
    TempDir dir("attache-ssh-sig");
    const std::string message = "message signed through the Attache SSH codec\n";
    const std::string ns = "file";
    const SshsigCase cases[] = {
        {KeyType::kEcdsaP256, 0, "p256"},
        {KeyType::kEcdsaP384, 0, "p384"},
        {KeyType::kEcdsaP521, 0, "p521"},
        {KeyType::kEd25519, 0, "ed25519"},
        {KeyType::kRsa, SSH_AGENT_RSA_SHA2_512, "rsa-sha2-512"},
        {KeyType::kRsa, SSH_AGENT_RSA_SHA2_256, "rsa-sha2-256"},
    };
    for (const SshsigCase& c : cases) {
        SCOPED_TRACE(c.label);
        EVP_PKEY* key = key_for(c.type);
        const Bytes blob = *public_key_blob(key);
        auto plan = plan_signature(c.type, c.flags, false);
        ASSERT_TRUE(plan);

        // The data an SSHSIG signs: magic, namespace, reserved, hash name, H(message).
        const Bytes message_hash = p11::digest(p11::Hash::sha512, to_bytes(message));
        Writer to_sign;
        to_sign.raw(to_bytes("SSHSIG")).string(ns).string("").string("sha512").string(message_hash);

        const Bytes token_output = token_sign(key, *plan, to_sign.bytes());
        auto signature = encode_signature(*plan, token_output);
        ASSERT_TRUE(signature) << signature.error().message();

        Writer envelope;
        envelope.raw(to_bytes("SSHSIG")).u32(1).string(blob).string(ns).string("").string("sha512");
        envelope.string(*signature);
        const std::string armored = "-----BEGIN SSH SIGNATURE-----\n" +
                                    base64_wrapped(envelope.bytes(), 70) +
                                    "-----END SSH SIGNATURE-----\n";
        const auto sig_path = dir / (std::string(c.label) + ".sshsig");
        write_file(sig_path, armored);

        auto r = run_command(
            {"ssh-keygen", "-Y", "check-novalidate", "-n", ns, "-s", sig_path.string()}, message);
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        EXPECT_NE(r.out.find("Good \"file\" signature"), std::string::npos) << describe(r);
        EXPECT_NE(r.out.find(fingerprint_sha256(blob)), std::string::npos) << describe(r);

        // A different message must be refused: the check is real.
        auto bad =
            run_command({"ssh-keygen", "-Y", "check-novalidate", "-n", ns, "-s", sig_path.string()},
                        message + "tampered");
        EXPECT_NE(bad.exit_code, 0) << describe(bad);
    }
}

}  // namespace
}  // namespace attache::ssh
