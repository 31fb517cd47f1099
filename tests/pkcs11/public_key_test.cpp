// Public keys from PKCS#11 attributes to OpenSSL: curve parameters, EC points (DER-wrapped or
// bare), RSA components, certificates and SubjectPublicKeyInfo.

#include <gtest/gtest.h>
#include <openssl/obj_mac.h>

#include <cstring>
#include <string>

#include "pkcs11/public_key.h"
#include "tests/pkcs11/fixture.h"
#include "tests/pkcs11/openssl_check.h"

namespace attache::p11 {
namespace {

// DER OCTET STRING around `content` (short or one-byte long form).
Bytes octet_string(const Bytes& content) {
    Bytes out{0x04};
    if (content.size() >= 0x80)
        out.push_back(0x81);
    out.push_back(static_cast<uint8_t>(content.size()));
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

Pkey ed25519_key() {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (key == nullptr)
        throw std::runtime_error("OpenSSL cannot generate an Ed25519 key");
    return Pkey(key);
}

Bytes raw_public(EVP_PKEY* key) {
    Bytes out(64);
    size_t len = out.size();
    EXPECT_EQ(EVP_PKEY_get_raw_public_key(key, out.data(), &len), 1);
    out.resize(len);
    return out;
}

AttributeValues attributes(CK_KEY_TYPE type,
                           std::initializer_list<std::pair<CK_ATTRIBUTE_TYPE, Bytes>> values) {
    AttributeValues v;
    Bytes type_bytes(sizeof(CK_ULONG));
    std::memcpy(type_bytes.data(), &type, sizeof type);
    v.set(CKA_KEY_TYPE, type_bytes);
    for (const auto& [t, b] : values)
        v.set(t, b);
    return v;
}

TEST(CurveParams, KnownCurvesByOid) {
    EXPECT_EQ(curve_nid(ec_params_p256()).value_or(0), NID_X9_62_prime256v1);
    EXPECT_EQ(curve_nid(ec_params_p384()).value_or(0), NID_secp384r1);
    EXPECT_EQ(curve_nid(ec_params_ed25519()).value_or(0), NID_ED25519);
    // secp521r1 is understood too.
    EXPECT_EQ(curve_nid(Bytes{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}).value_or(0),
              NID_secp521r1);
    // Some modules name Edwards curves with a PrintableString.
    const Bytes printable{0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};
    EXPECT_EQ(curve_nid(printable).value_or(0), NID_ED25519);
}

TEST(CurveParams, UnknownOrMalformed) {
    auto k1 = curve_nid(Bytes{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a});  // secp256k1
    ASSERT_FALSE(k1);
    EXPECT_NE(k1.error().message().find("unsupported curve"), std::string::npos);
    EXPECT_FALSE(curve_nid(Bytes{}));
    EXPECT_FALSE(curve_nid(Bytes{0x06, 0x08, 0x2a}));  // truncated
    Bytes trailing = ec_params_p256();
    trailing.push_back(0);
    EXPECT_FALSE(curve_nid(trailing));
    Bytes other_name{0x13, 0x0a};
    for (char c : std::string("edwards448"))
        other_name.push_back(static_cast<uint8_t>(c));
    EXPECT_FALSE(curve_nid(other_name));
}

TEST(EcPoint, WrappedAndBarePoints) {
    for (auto [curve, field] : {std::pair{"P-256", size_t{32}}, std::pair{"P-384", size_t{48}}}) {
        SCOPED_TRACE(curve);
        Pkey key = test::openssl_ec_key(curve);
        const Bytes point = test::public_point(key.get());
        ASSERT_EQ(point.size(), 2 * field + 1);
        ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes from_der, unwrap_ec_point(octet_string(point), field));
        EXPECT_EQ(from_der, point);
        ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes from_bare, unwrap_ec_point(point, field));
        EXPECT_EQ(from_bare, point);
    }
    Pkey ed = ed25519_key();
    const Bytes ed_point = raw_public(ed.get());
    ASSERT_EQ(ed_point.size(), 32u);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes ed_der, unwrap_ec_point(octet_string(ed_point), 32));
    EXPECT_EQ(ed_der, ed_point);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes ed_bare, unwrap_ec_point(ed_point, 32));
    EXPECT_EQ(ed_bare, ed_point);
}

// Bare points whose first bytes happen to read as an OCTET STRING header stay whole.
TEST(EcPoint, BarePointsThatLookLikeDer) {
    Bytes ed(32, 0xab);
    ed[0] = 0x04;
    ed[1] = 0x1e;  // "OCTET STRING of 30 bytes": exactly the rest of the point
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes ed_out, unwrap_ec_point(ed, 32));
    EXPECT_EQ(ed_out, ed);

    Bytes p256(65, 0xcd);
    p256[0] = 0x04;
    p256[1] = 0x3f;  // 63 bytes follow
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes p256_out, unwrap_ec_point(p256, 32));
    EXPECT_EQ(p256_out, p256);
}

TEST(EcPoint, GarbageIsRefused) {
    auto r = unwrap_ec_point(Bytes(10, 0x04), 32);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("CKA_EC_POINT"), std::string::npos);
    EXPECT_FALSE(unwrap_ec_point(Bytes{}, 32));
    Pkey key = test::openssl_ec_key("P-256");
    Bytes wrapped = octet_string(test::public_point(key.get()));
    wrapped.push_back(0x00);  // trailing byte after the OCTET STRING
    EXPECT_FALSE(unwrap_ec_point(wrapped, 32));
}

TEST(PublicKeyFrom, EcKeyEqualsTheOriginal) {
    Pkey key = test::openssl_ec_key("P-256");
    const Bytes point = test::public_point(key.get());
    for (const Bytes& encoded : {octet_string(point), point}) {
        ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey built, ec_public_key(ec_params_p256(), encoded));
        EXPECT_EQ(EVP_PKEY_eq(built.get(), key.get()), 1);
        EXPECT_EQ(key_bits(built.get()), 256u);
        ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes material, key_id_material(built.get()));
        EXPECT_EQ(material, point);
    }
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Pkey via_attributes,
        public_key_from(attributes(
            CKK_EC, {{CKA_EC_PARAMS, ec_params_p256()}, {CKA_EC_POINT, octet_string(point)}})));
    EXPECT_EQ(EVP_PKEY_eq(via_attributes.get(), key.get()), 1);
}

TEST(PublicKeyFrom, Ed25519) {
    Pkey key = ed25519_key();
    const Bytes point = raw_public(key.get());
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Pkey built,
        public_key_from(attributes(CKK_EC_EDWARDS, {{CKA_EC_PARAMS, ec_params_ed25519()},
                                                    {CKA_EC_POINT, octet_string(point)}})));
    EXPECT_EQ(EVP_PKEY_eq(built.get(), key.get()), 1);
    EXPECT_EQ(key_bits(built.get()), 255u);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes material, key_id_material(built.get()));
    EXPECT_EQ(material, point);
}

TEST(PublicKeyFrom, PointNotOnTheCurveIsRefused) {
    Bytes bogus(65, 0x01);
    bogus[0] = 0x04;
    auto r = ec_public_key(ec_params_p256(), bogus);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("OpenSSL rejected"), std::string::npos)
        << r.error().message();
}

TEST(PublicKeyFrom, Rsa) {
    // n = 0xc5 followed by 127 bytes (odd), e = 65537: the key need not be a real one.
    Bytes n(128, 0x5b);
    n[0] = 0xc5;
    n.back() = 0x01;
    ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey key, rsa_public_key(n, Bytes{0x01, 0x00, 0x01}));
    EXPECT_EQ(key_bits(key.get()), 1024u);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes material, key_id_material(key.get()));
    EXPECT_EQ(material, n);
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Pkey via_attributes,
        public_key_from(
            attributes(CKK_RSA, {{CKA_MODULUS, n}, {CKA_PUBLIC_EXPONENT, {0x01, 0x00, 0x01}}})));
    EXPECT_EQ(EVP_PKEY_eq(via_attributes.get(), key.get()), 1);
}

TEST(PublicKeyFrom, MissingAttributesAreNamed) {
    auto no_type = public_key_from(AttributeValues{});
    ASSERT_FALSE(no_type);
    EXPECT_NE(no_type.error().message().find("CKA_KEY_TYPE"), std::string::npos);
    auto rsa = public_key_from(attributes(CKK_RSA, {{CKA_MODULUS, Bytes(128, 0xc1)}}));
    ASSERT_FALSE(rsa);
    EXPECT_NE(rsa.error().message().find("CKA_PUBLIC_EXPONENT"), std::string::npos);
    auto ec = public_key_from(attributes(CKK_EC, {{CKA_EC_PARAMS, ec_params_p256()}}));
    ASSERT_FALSE(ec);
    EXPECT_NE(ec.error().message().find("CKA_EC_POINT"), std::string::npos);
    auto dsa = public_key_from(attributes(CKK_DSA, {}));
    ASSERT_FALSE(dsa);
    EXPECT_NE(dsa.error().message().find("unsupported key type"), std::string::npos);
}

TEST(Spki, DerAndPemRoundTrip) {
    Pkey key = test::openssl_ec_key("P-384");
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes der, spki_der(key.get()));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey back, pkey_from_spki(der));
    EXPECT_EQ(EVP_PKEY_eq(back.get(), key.get()), 1);
    ATTACHE_ASSERT_OK_AND_ASSIGN(std::string pem, spki_pem(key.get()));
    EXPECT_TRUE(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    EXPECT_TRUE(pem.ends_with("-----END PUBLIC KEY-----\n"));

    test::OpenSslTool tool;
    tool.write("pub.pem", pem);
    auto r = tool.run({"pkey", "-pubin", "-in", tool.path("pub.pem"), "-outform", "DER", "-out",
                       tool.path("pub.der")});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(tool.read("pub.der"), der);

    EXPECT_FALSE(pkey_from_spki(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}));
    EXPECT_FALSE(pkey_from_spki(Bytes{}));
}

TEST(Certificate, PublicKeyOfACertificate) {
    Pkey key = test::openssl_ec_key("P-256");
    const Bytes der = test::make_certificate(key.get(), "holder");
    ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey from_cert, certificate_public_key(der));
    EXPECT_EQ(EVP_PKEY_eq(from_cert.get(), key.get()), 1);
    EXPECT_FALSE(certificate_public_key(Bytes{0x30, 0x00}));
    EXPECT_FALSE(certificate_public_key(Bytes{}));
}

}  // namespace
}  // namespace attache::p11
