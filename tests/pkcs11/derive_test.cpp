// ECDH on the token (CKM_ECDH1_DERIVE), compared with OpenSSL's ECDH against a peer key
// OpenSSL generated.

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "pkcs11/keygen.h"
#include "pkcs11/operations.h"
#include "pkcs11/public_key.h"
#include "tests/pkcs11/fixture.h"
#include "tests/pkcs11/openssl_check.h"

namespace attache::p11 {
namespace {

using test::kDeriveOnly;
using test::key_spec;
using test::kSignOnly;
using test::TokenTest;

using DeriveTest = TokenTest;

size_t count_secret_keys(const Session& session) {
    AttributeTemplate t;
    t.add_ulong(CKA_CLASS, CKO_SECRET_KEY);
    auto found = session.find(t);
    return found ? found->size() : 9999;
}

struct Curve {
    KeyAlgorithm algorithm;
    const char* openssl_name;
    size_t secret_size;
};

void PrintTo(const Curve& c, std::ostream* os) {
    *os << c.openssl_name;
}

class DeriveCurveTest : public TokenTest, public ::testing::WithParamInterface<Curve> {};

TEST_P(DeriveCurveTest, EqualsOpenSslEcdh) {
    const Curve curve = GetParam();
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles keys,
        generate_key_pair(session(), key_spec(curve.algorithm, kDeriveOnly, "ecdh")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey token_public, public_key_of(keys.public_key));

    Pkey peer = test::openssl_ec_key(curve.openssl_name);
    const Bytes peer_point = test::public_point(peer.get());
    ASSERT_EQ(peer_point[0], 0x04);  // uncompressed

    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes on_token,
        derive_ecdh(session(), keys.private_key, peer_point, curve.secret_size, "ecdh"));
    const Bytes by_openssl = test::openssl_ecdh(peer.get(), token_public.get());
    EXPECT_EQ(on_token.size(), curve.secret_size);
    EXPECT_EQ(on_token, by_openssl);

    // Another peer, another secret.
    Pkey other = test::openssl_ec_key(curve.openssl_name);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes other_secret, derive_ecdh(session(), keys.private_key,
                                                                 test::public_point(other.get()),
                                                                 curve.secret_size, "ecdh"));
    EXPECT_NE(other_secret, on_token);
    EXPECT_EQ(other_secret, test::openssl_ecdh(other.get(), token_public.get()));

    // The derived secret objects were destroyed.
    EXPECT_EQ(count_secret_keys(session()), 0u);
}

INSTANTIATE_TEST_SUITE_P(Curves, DeriveCurveTest,
                         ::testing::Values(Curve{KeyAlgorithm::ec_p256, "P-256", 32},
                                           Curve{KeyAlgorithm::ec_p384, "P-384", 48}),
                         [](const ::testing::TestParamInfo<Curve>& p) {
                             return std::string(p.param.openssl_name) == "P-256" ? "P256" : "P384";
                         });

TEST_F(DeriveTest, SignOnlyKeyCannotDerive) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles keys,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "signer")));
    Pkey peer = test::openssl_ec_key("P-256");
    auto r = derive_ecdh(session(), keys.private_key, test::public_point(peer.get()), 32,
                         "pkcs11:object=signer");
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(CKR_KEY_FUNCTION_NOT_PERMITTED)) << r.error().message();
    EXPECT_EQ(
        r.error().message(),
        "C_DeriveKey[CKM_ECDH1_DERIVE](pkcs11:object=signer): CKR_KEY_FUNCTION_NOT_PERMITTED");
    EXPECT_EQ(count_secret_keys(session()), 0u);
}

TEST_F(DeriveTest, PeerOnAnotherCurveIsRefused) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles keys,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kDeriveOnly, "ecdh")));
    Pkey peer = test::openssl_ec_key("P-384");
    auto r = derive_ecdh(session(), keys.private_key, test::public_point(peer.get()), 32, "ecdh");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("C_DeriveKey[CKM_ECDH1_DERIVE](ecdh): CKR_"),
              std::string::npos)
        << r.error().message();
    EXPECT_EQ(count_secret_keys(session()), 0u);
}

}  // namespace
}  // namespace attache::p11
