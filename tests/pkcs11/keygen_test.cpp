// Key-pair generation: every attribute as asked, the default CKA_ID, and the public key's
// export that the `openssl` command reads.

#include <gtest/gtest.h>

#include <cstdlib>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "pkcs11/keygen.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/public_key.h"
#include "tests/pkcs11/fixture.h"
#include "tests/pkcs11/openssl_check.h"

namespace attache::p11 {
namespace {

using test::key_spec;
using test::kSignOnly;
using test::OpenSslTool;
using test::TokenTest;

struct Flag {
    CK_ATTRIBUTE_TYPE type;
    const char* name;
    bool expected;
};

// Reads every attribute of `flags` in one call and compares each with what is expected.
void expect_flags(const Session& session, CK_OBJECT_HANDLE object, const std::vector<Flag>& flags) {
    std::vector<CK_ATTRIBUTE_TYPE> types;
    for (const Flag& f : flags)
        types.push_back(f.type);
    auto values = session.read(object, types);
    ASSERT_TRUE(values) << values.error().message();
    for (const Flag& f : flags)
        EXPECT_EQ(values->boolean(f.type), std::optional<bool>(f.expected)) << f.name;
}

struct Case {
    KeyAlgorithm algorithm;
    KeyUsage usage;
    size_t bits;
    const char* openssl_text;  // what `openssl pkey -pubin -text` prints for this key
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << key_algorithm_name(c.algorithm);
}

class KeygenTest : public TokenTest, public ::testing::WithParamInterface<Case> {};

TEST_P(KeygenTest, AttributesIdAndPublicKey) {
    const Case c = GetParam();
    const std::string label = std::string(key_algorithm_name(c.algorithm)) + "-key";
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles keys, generate_key_pair(session(), key_spec(c.algorithm, c.usage, label)));
    ASSERT_NE(keys.private_key, CK_INVALID_HANDLE);
    ASSERT_NE(keys.public_key, CK_INVALID_HANDLE);
    const bool rsa = key_type_of(c.algorithm) == CKK_RSA;

    ASSERT_NO_FATAL_FAILURE(expect_flags(session(), keys.private_key,
                                         {
                                             {CKA_TOKEN, "CKA_TOKEN", true},
                                             {CKA_PRIVATE, "CKA_PRIVATE", true},
                                             {CKA_SENSITIVE, "CKA_SENSITIVE", true},
                                             {CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false},
                                             {CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", true},
                                             {CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", true},
                                             {CKA_LOCAL, "CKA_LOCAL", true},
                                             {CKA_MODIFIABLE, "CKA_MODIFIABLE", true},
                                             {CKA_SIGN, "CKA_SIGN", c.usage.sign},
                                             {CKA_SIGN_RECOVER, "CKA_SIGN_RECOVER", false},
                                             {CKA_DECRYPT, "CKA_DECRYPT", c.usage.decrypt},
                                             {CKA_UNWRAP, "CKA_UNWRAP", false},
                                             {CKA_DERIVE, "CKA_DERIVE", c.usage.derive},
                                         }));
    ASSERT_NO_FATAL_FAILURE(expect_flags(session(), keys.public_key,
                                         {
                                             {CKA_TOKEN, "CKA_TOKEN", true},
                                             {CKA_PRIVATE, "CKA_PRIVATE", false},
                                             {CKA_LOCAL, "CKA_LOCAL", true},
                                             {CKA_VERIFY, "CKA_VERIFY", c.usage.sign},
                                             {CKA_VERIFY_RECOVER, "CKA_VERIFY_RECOVER", false},
                                             {CKA_ENCRYPT, "CKA_ENCRYPT", c.usage.decrypt},
                                             {CKA_WRAP, "CKA_WRAP", false},
                                             {CKA_DERIVE, "CKA_DERIVE", false},
                                         }));

    // Type, label and the key material the id is made from.
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        AttributeValues pub,
        session().read(keys.public_key,
                       {CKA_CLASS, CKA_KEY_TYPE, CKA_LABEL, CKA_ID, CKA_MODULUS, CKA_MODULUS_BITS,
                        CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS, CKA_EC_POINT}));
    EXPECT_EQ(pub.ulong(CKA_CLASS), std::optional<CK_ULONG>(CKO_PUBLIC_KEY));
    EXPECT_EQ(pub.ulong(CKA_KEY_TYPE), std::optional<CK_ULONG>(key_type_of(c.algorithm)));
    EXPECT_EQ(pub.string(CKA_LABEL), std::optional<std::string>(label));
    Bytes material;
    if (rsa) {
        ASSERT_TRUE(pub.has(CKA_MODULUS));
        material = *pub.bytes(CKA_MODULUS);
        EXPECT_EQ(material.size() * 8, c.bits);
        EXPECT_EQ(pub.ulong(CKA_MODULUS_BITS), std::optional<CK_ULONG>(c.bits));
        EXPECT_EQ(pub.bytes(CKA_PUBLIC_EXPONENT) ? *pub.bytes(CKA_PUBLIC_EXPONENT) : Bytes{},
                  (Bytes{0x01, 0x00, 0x01}));
    } else {
        ASSERT_TRUE(pub.has(CKA_EC_PARAMS));
        ASSERT_TRUE(pub.has(CKA_EC_POINT));
        const Bytes expected_params = c.algorithm == KeyAlgorithm::ec_p256   ? ec_params_p256()
                                      : c.algorithm == KeyAlgorithm::ec_p384 ? ec_params_p384()
                                                                             : ec_params_ed25519();
        EXPECT_EQ(*pub.bytes(CKA_EC_PARAMS), expected_params);
        const size_t field = (c.bits + 7) / 8;
        ATTACHE_ASSERT_OK_AND_ASSIGN(material, unwrap_ec_point(*pub.bytes(CKA_EC_POINT), field));
        EXPECT_EQ(material.size(), c.algorithm == KeyAlgorithm::ed25519 ? 32u : 2 * field + 1);
    }
    // CKA_ID: SHA-1 of the modulus or point, the same on both halves.
    const Bytes expected_id = digest(Hash::sha1, material);
    EXPECT_EQ(keys.id, expected_id);
    ASSERT_TRUE(pub.has(CKA_ID));
    EXPECT_EQ(*pub.bytes(CKA_ID), expected_id);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes private_id, session().read_bytes(keys.private_key, CKA_ID));
    EXPECT_EQ(private_id, expected_id);

    // The private half keeps its secret: absent from a batch read that fills the rest.
    const CK_ATTRIBUTE_TYPE secret_attribute = rsa ? CKA_PRIVATE_EXPONENT : CKA_VALUE;
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        AttributeValues priv,
        session().read(keys.private_key, {CKA_LABEL, secret_attribute, CKA_KEY_TYPE, CKA_ID}));
    EXPECT_FALSE(priv.has(secret_attribute));
    EXPECT_EQ(priv.string(CKA_LABEL), std::optional<std::string>(label));
    EXPECT_EQ(priv.ulong(CKA_KEY_TYPE), std::optional<CK_ULONG>(key_type_of(c.algorithm)));
    auto leaked = session().read_bytes(keys.private_key, secret_attribute);
    ASSERT_FALSE(leaked);
    EXPECT_TRUE(leaked.error().is(CKR_ATTRIBUTE_SENSITIVE)) << leaked.error().message();

    // The public key as SubjectPublicKeyInfo, read by the openssl command.
    ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey pkey, public_key_of(keys.public_key));
    EXPECT_EQ(key_bits(pkey.get()), c.bits);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes der, spki_der(pkey.get()));
    ATTACHE_ASSERT_OK_AND_ASSIGN(std::string pem, spki_pem(pkey.get()));
    EXPECT_TRUE(pem.starts_with("-----BEGIN PUBLIC KEY-----\n")) << pem;
    OpenSslTool tool;
    tool.write("pub.der", der);
    tool.write("pub.pem", pem);
    auto text = tool.run({"pkey", "-pubin", "-in", tool.path("pub.pem"), "-noout", "-text"});
    ASSERT_EQ(text.exit_code, 0) << describe(text);
    EXPECT_NE(text.out.find(c.openssl_text), std::string::npos) << text.out;
    // DER in, DER out: openssl re-encodes exactly our bytes.
    auto reencoded = tool.run({"pkey", "-pubin", "-inform", "DER", "-in", tool.path("pub.der"),
                               "-outform", "DER", "-out", tool.path("out.der")});
    ASSERT_EQ(reencoded.exit_code, 0) << describe(reencoded);
    EXPECT_EQ(tool.read("out.der"), der);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes id_material, key_id_material(pkey.get()));
    EXPECT_EQ(id_material, material);
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, KeygenTest,
    ::testing::Values(Case{KeyAlgorithm::ec_p256, {.sign = true}, 256, "ASN1 OID: prime256v1"},
                      Case{KeyAlgorithm::ec_p384, {.derive = true}, 384, "ASN1 OID: secp384r1"},
                      Case{KeyAlgorithm::ed25519, {.sign = true}, 255, "ED25519 Public-Key"},
                      Case{KeyAlgorithm::rsa2048,
                           {.sign = true, .decrypt = true},
                           2048,
                           "Public-Key: (2048 bit)"},
                      // The one slow case (about a second on SoftHSM2): RSA-3072, sign only.
                      Case{KeyAlgorithm::rsa3072, {.sign = true}, 3072, "Public-Key: (3072 bit)"}),
    [](const ::testing::TestParamInfo<Case>& p) {
        std::string name(key_algorithm_name(p.param.algorithm));
        std::erase(name, '-');
        return name;
    });

using KeygenSpecTest = TokenTest;

// RSA-4096 takes several seconds on SoftHSM2: run it on demand only.
TEST_F(KeygenSpecTest, Rsa4096Slow) {
    if (std::getenv("ATTACHE_SLOW_TESTS") == nullptr)
        GTEST_SKIP() << "RSA-4096 generation is slow on SoftHSM2; set ATTACHE_SLOW_TESTS=1 to run";
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles keys,
        generate_key_pair(session(), key_spec(KeyAlgorithm::rsa4096, kSignOnly, "big")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey pkey, public_key_of(keys.public_key));
    EXPECT_EQ(key_bits(pkey.get()), 4096u);
}

TEST_F(KeygenSpecTest, ExplicitIdOnBothHalves) {
    KeyPairSpec spec = key_spec(KeyAlgorithm::ec_p256, kSignOnly, "with-id");
    spec.id = Bytes{0x01, 0x02, 0x03, 0x04};
    ATTACHE_ASSERT_OK_AND_ASSIGN(KeyPairHandles keys, generate_key_pair(session(), spec));
    EXPECT_EQ(keys.id, spec.id);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes pub_id, session().read_bytes(keys.public_key, CKA_ID));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes priv_id, session().read_bytes(keys.private_key, CKA_ID));
    EXPECT_EQ(pub_id, spec.id);
    EXPECT_EQ(priv_id, spec.id);
}

TEST_F(KeygenSpecTest, NoLabelLeavesTheLabelEmpty) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles keys,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ed25519, kSignOnly, "")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(AttributeValues v, session().read(keys.private_key, {CKA_LABEL}));
    EXPECT_TRUE(!v.has(CKA_LABEL) || v.bytes(CKA_LABEL)->empty());
    EXPECT_EQ(keys.id.size(), 20u);
}

// token = false: session objects, gone with the session that made them.
TEST_F(KeygenSpecTest, SessionKeysDieWithTheirSession) {
    KeyPairSpec spec = key_spec(KeyAlgorithm::ec_p256, kSignOnly, "ephemeral");
    spec.token = false;
    AttributeTemplate by_label;
    by_label.add_string(CKA_LABEL, "ephemeral");
    {
        auto other = module().open_session(slot_, true);
        ASSERT_TRUE(other) << other.error().message();
        ATTACHE_ASSERT_OK_AND_ASSIGN(KeyPairHandles keys, generate_key_pair(*other, spec));
        ASSERT_NO_FATAL_FAILURE(expect_flags(*other, keys.private_key,
                                             {{CKA_TOKEN, "CKA_TOKEN", false},
                                              {CKA_SENSITIVE, "CKA_SENSITIVE", true},
                                              {CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false}}));
        ASSERT_NO_FATAL_FAILURE(
            expect_flags(*other, keys.public_key, {{CKA_TOKEN, "CKA_TOKEN", false}}));
        ATTACHE_ASSERT_OK_AND_ASSIGN(auto visible, session().find(by_label));
        EXPECT_EQ(visible.size(), 2u);  // session objects are visible to the application
    }
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto gone, session().find(by_label));
    EXPECT_TRUE(gone.empty());
}

TEST_F(KeygenSpecTest, FailureNamesTheAlgorithmLabelAndReason) {
    auto ro = module().open_session(slot_, /*read_write=*/false);
    ASSERT_TRUE(ro) << ro.error().message();
    auto r = generate_key_pair(*ro, key_spec(KeyAlgorithm::ec_p256, kSignOnly, "nope"));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(CKR_SESSION_READ_ONLY)) << r.error().message();
    EXPECT_EQ(r.error().message(), "C_GenerateKeyPair[ec-p256](nope): CKR_SESSION_READ_ONLY");
}

TEST(KeyAlgorithmNames, RoundTripAndMechanisms) {
    struct Expect {
        KeyAlgorithm algorithm;
        const char* name;
        CK_MECHANISM_TYPE mechanism;
        CK_KEY_TYPE key_type;
    };
    for (const Expect& e : {
             Expect{KeyAlgorithm::rsa2048, "rsa-2048", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA},
             Expect{KeyAlgorithm::rsa3072, "rsa-3072", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA},
             Expect{KeyAlgorithm::rsa4096, "rsa-4096", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA},
             Expect{KeyAlgorithm::ec_p256, "ec-p256", CKM_EC_KEY_PAIR_GEN, CKK_EC},
             Expect{KeyAlgorithm::ec_p384, "ec-p384", CKM_EC_KEY_PAIR_GEN, CKK_EC},
             Expect{KeyAlgorithm::ed25519, "ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS},
         }) {
        EXPECT_EQ(key_algorithm_name(e.algorithm), e.name);
        EXPECT_EQ(key_algorithm_from_name(e.name), std::optional<KeyAlgorithm>(e.algorithm));
        EXPECT_EQ(generation_mechanism(e.algorithm), e.mechanism) << e.name;
        EXPECT_EQ(key_type_of(e.algorithm), e.key_type) << e.name;
    }
    EXPECT_EQ(key_algorithm_from_name("rsa-1024"), std::nullopt);
    EXPECT_EQ(key_algorithm_from_name("EC-P256"), std::nullopt);
    EXPECT_EQ(key_algorithm_from_name(""), std::nullopt);
}

}  // namespace
}  // namespace attache::p11
