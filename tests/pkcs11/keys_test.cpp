// find_keys: private keys paired with their public keys and certificates by CKA_ID, with the
// provenance flags that decide whether a key may be served; and certificate objects.

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/x509.h>

#include <map>
#include <string>

#include "pkcs11/certificate.h"
#include "pkcs11/keygen.h"
#include "pkcs11/keys.h"
#include "pkcs11/public_key.h"
#include "tests/pkcs11/fixture.h"
#include "tests/pkcs11/openssl_check.h"

namespace attache::p11 {
namespace {

using test::kDecryptOnly;
using test::key_spec;
using test::kSignOnly;
using test::OpenSslTool;
using test::TokenTest;

using KeysTest = TokenTest;

const KeyObject* by_label(const std::vector<KeyObject>& keys, const std::string& label) {
    for (const KeyObject& k : keys) {
        if (k.label == label)
            return &k;
    }
    return nullptr;
}

// An EC private key made by OpenSSL and imported as is: not sensitive, extractable, not local.
Result<CK_OBJECT_HANDLE> import_ec_private_key(Session& session, const Bytes& id,
                                               const std::string& label) {
    Pkey key = test::openssl_ec_key("P-256");
    BIGNUM* d = nullptr;
    if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
        return Error("cannot read the private scalar");
    Bytes scalar(32);
    BN_bn2binpad(d, scalar.data(), 32);
    BN_clear_free(d);
    AttributeTemplate t;
    t.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .add_ulong(CKA_KEY_TYPE, CKK_EC)
        .add_bool(CKA_TOKEN, true)
        .add_bool(CKA_PRIVATE, true)
        .add_bool(CKA_SENSITIVE, false)
        .add_bool(CKA_EXTRACTABLE, true)
        .add_bool(CKA_SIGN, true)
        .add_bool(CKA_DECRYPT, false)
        .add_bool(CKA_DERIVE, true)
        .add_bytes(CKA_EC_PARAMS, ec_params_p256())
        .add_bytes(CKA_VALUE, scalar)
        .add_bytes(CKA_ID, id)
        .add_string(CKA_LABEL, label);
    return session.create(t);
}

TEST_F(KeysTest, EmptyToken) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto keys, find_keys(session()));
    EXPECT_TRUE(keys.empty());
}

TEST_F(KeysTest, PairsKeysAndCertificatesById) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles with_cert,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "with-cert")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles plain,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ed25519, kSignOnly, "plain")));
    const Bytes imported_id{0x0c, 0x0c};
    ATTACHE_ASSERT_OK_AND_ASSIGN(CK_OBJECT_HANDLE imported,
                                 import_ec_private_key(session(), imported_id, "imported"));

    ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey pub, public_key_of(with_cert.public_key));
    const Bytes cert_der = test::make_certificate(pub.get(), "with-cert");
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        CK_OBJECT_HANDLE cert, create_certificate(session(), cert_der, with_cert.id, "with-cert"));

    ATTACHE_ASSERT_OK_AND_ASSIGN(auto keys, find_keys(session()));
    ASSERT_EQ(keys.size(), 3u);

    const KeyObject* a = by_label(keys, "with-cert");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->private_key, with_cert.private_key);
    EXPECT_EQ(a->public_key, std::optional<CK_OBJECT_HANDLE>(with_cert.public_key));
    EXPECT_EQ(a->certificate, std::optional<CK_OBJECT_HANDLE>(cert));
    EXPECT_EQ(a->certificate_der, cert_der);
    EXPECT_EQ(a->id, with_cert.id);
    EXPECT_EQ(a->key_type, static_cast<CK_KEY_TYPE>(CKK_EC));
    EXPECT_EQ(a->bits, 256u);
    ASSERT_NE(a->pkey, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(a->pkey.get(), pub.get()), 1);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes spki, spki_der(pub.get()));
    EXPECT_EQ(a->spki, spki);
    EXPECT_TRUE(a->can_sign);
    EXPECT_FALSE(a->can_decrypt);
    EXPECT_FALSE(a->can_derive);
    EXPECT_FALSE(a->always_authenticate);
    EXPECT_TRUE(a->sensitive);
    EXPECT_FALSE(a->extractable);
    EXPECT_TRUE(a->never_extractable);
    EXPECT_TRUE(a->always_sensitive);
    EXPECT_TRUE(a->local);
    EXPECT_TRUE(a->hardware_bound());

    const KeyObject* b = by_label(keys, "plain");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->public_key, std::optional<CK_OBJECT_HANDLE>(plain.public_key));
    EXPECT_EQ(b->certificate, std::nullopt);
    EXPECT_TRUE(b->certificate_der.empty());
    EXPECT_EQ(b->key_type, static_cast<CK_KEY_TYPE>(CKK_EC_EDWARDS));
    EXPECT_EQ(b->bits, 255u);
    ASSERT_NE(b->pkey, nullptr);
    EXPECT_EQ(EVP_PKEY_get_id(b->pkey.get()), EVP_PKEY_ED25519);
    EXPECT_TRUE(b->hardware_bound());

    // Imported in the clear: no public key object, and nothing says it never left a token.
    const KeyObject* c = by_label(keys, "imported");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->private_key, imported);
    EXPECT_EQ(c->id, imported_id);
    EXPECT_EQ(c->public_key, std::nullopt);
    EXPECT_EQ(c->certificate, std::nullopt);
    EXPECT_EQ(c->pkey, nullptr);
    EXPECT_TRUE(c->spki.empty());
    EXPECT_TRUE(c->can_sign);
    EXPECT_TRUE(c->can_derive);
    EXPECT_FALSE(c->sensitive);
    EXPECT_TRUE(c->extractable);
    EXPECT_FALSE(c->never_extractable);
    EXPECT_FALSE(c->always_sensitive);
    EXPECT_FALSE(c->local);
    EXPECT_FALSE(c->hardware_bound());
}

TEST_F(KeysTest, FilterSelectsKeys) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles one,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "one")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles two,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "two")));

    AttributeTemplate label;
    label.add_string(CKA_LABEL, "two");
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto by_label_keys, find_keys(session(), label));
    ASSERT_EQ(by_label_keys.size(), 1u);
    EXPECT_EQ(by_label_keys[0].private_key, two.private_key);
    EXPECT_EQ(by_label_keys[0].public_key, std::optional<CK_OBJECT_HANDLE>(two.public_key));

    AttributeTemplate id;
    id.add_bytes(CKA_ID, one.id);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto by_id_keys, find_keys(session(), id));
    ASSERT_EQ(by_id_keys.size(), 1u);
    EXPECT_EQ(by_id_keys[0].private_key, one.private_key);

    // A filter naming the private-key class is fine; one naming another class (a URI with
    // type=public or type=cert) finds no keys rather than public keys posing as private ones.
    AttributeTemplate private_class;
    private_class.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto both, find_keys(session(), private_class));
    EXPECT_EQ(both.size(), 2u);
    for (CK_OBJECT_CLASS other : {CKO_PUBLIC_KEY, CKO_CERTIFICATE, CKO_DATA}) {
        AttributeTemplate other_class;
        other_class.add_ulong(CKA_CLASS, other).add_string(CKA_LABEL, "one");
        ATTACHE_ASSERT_OK_AND_ASSIGN(auto none, find_keys(session(), other_class));
        EXPECT_TRUE(none.empty()) << "class " << other << ": " << none.size() << " keys, first "
                                  << (none.empty() ? 0 : none[0].private_key);
    }

    AttributeTemplate nothing;
    nothing.add_string(CKA_LABEL, "three");
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto empty, find_keys(session(), nothing));
    EXPECT_TRUE(empty.empty());
}

// Without a public-key object the certificate supplies the public key; an RSA private key
// carries its own modulus.
TEST_F(KeysTest, PublicKeyFallbacks) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles ec,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "ec")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey ec_pub, public_key_of(ec.public_key));
    ATTACHE_ASSERT_OK(
        create_certificate(session(), test::make_certificate(ec_pub.get(), "ec"), ec.id, "ec"));
    ATTACHE_ASSERT_OK(session().destroy(ec.public_key));

    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles rsa,
        generate_key_pair(session(), key_spec(KeyAlgorithm::rsa2048, kDecryptOnly, "rsa")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey rsa_pub, public_key_of(rsa.public_key));
    ATTACHE_ASSERT_OK(session().destroy(rsa.public_key));

    ATTACHE_ASSERT_OK_AND_ASSIGN(auto keys, find_keys(session()));
    ASSERT_EQ(keys.size(), 2u);
    const KeyObject* e = by_label(keys, "ec");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->public_key, std::nullopt);
    ASSERT_TRUE(e->certificate.has_value());
    ASSERT_NE(e->pkey, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(e->pkey.get(), ec_pub.get()), 1);
    EXPECT_EQ(e->bits, 256u);

    const KeyObject* r = by_label(keys, "rsa");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->public_key, std::nullopt);
    EXPECT_EQ(r->certificate, std::nullopt);
    ASSERT_NE(r->pkey, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(r->pkey.get(), rsa_pub.get()), 1);
    EXPECT_EQ(r->bits, 2048u);
    EXPECT_EQ(r->key_type, static_cast<CK_KEY_TYPE>(CKK_RSA));
    EXPECT_TRUE(r->can_decrypt);
    EXPECT_FALSE(r->can_sign);
    EXPECT_TRUE(r->hardware_bound());
}

TEST_F(KeysTest, CertificateObjectAttributes) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles keys,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p384, kSignOnly, "holder")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Pkey pub, public_key_of(keys.public_key));
    const Bytes der = test::make_certificate(pub.get(), "Holder Name");
    ATTACHE_ASSERT_OK_AND_ASSIGN(CK_OBJECT_HANDLE cert,
                                 create_certificate(session(), der, keys.id, "holder-cert"));

    ATTACHE_ASSERT_OK_AND_ASSIGN(
        AttributeValues v,
        session().read(cert, {CKA_CLASS, CKA_CERTIFICATE_TYPE, CKA_TOKEN, CKA_PRIVATE, CKA_ID,
                              CKA_LABEL, CKA_VALUE, CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER}));
    EXPECT_EQ(v.ulong(CKA_CLASS), std::optional<CK_ULONG>(CKO_CERTIFICATE));
    EXPECT_EQ(v.ulong(CKA_CERTIFICATE_TYPE), std::optional<CK_ULONG>(CKC_X_509));
    EXPECT_EQ(v.boolean(CKA_TOKEN), std::optional<bool>(true));
    EXPECT_EQ(v.boolean(CKA_PRIVATE), std::optional<bool>(false));
    EXPECT_EQ(v.string(CKA_LABEL), std::optional<std::string>("holder-cert"));
    ASSERT_TRUE(v.has(CKA_ID) && v.has(CKA_VALUE) && v.has(CKA_SUBJECT) && v.has(CKA_ISSUER) &&
                v.has(CKA_SERIAL_NUMBER));
    EXPECT_EQ(*v.bytes(CKA_ID), keys.id);
    EXPECT_EQ(*v.bytes(CKA_VALUE), der);

    // Subject, issuer and serial as OpenSSL encodes them from the certificate.
    const unsigned char* p = der.data();
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    ASSERT_NE(x, nullptr);
    auto encode = [](auto* value, auto i2d) {
        unsigned char* out = nullptr;
        int len = i2d(value, &out);
        Bytes b(out, out + std::max(len, 0));
        OPENSSL_free(out);
        return b;
    };
    EXPECT_EQ(*v.bytes(CKA_SUBJECT), encode(X509_get_subject_name(x), i2d_X509_NAME));
    EXPECT_EQ(*v.bytes(CKA_ISSUER), encode(X509_get_issuer_name(x), i2d_X509_NAME));
    EXPECT_EQ(*v.bytes(CKA_SERIAL_NUMBER), encode(X509_get0_serialNumber(x), i2d_ASN1_INTEGER));
    X509_free(x);

    // The stored certificate, read back from the token, is what the openssl command sees.
    OpenSslTool tool;
    tool.write("cert.der", *v.bytes(CKA_VALUE));
    auto r = tool.run(
        {"x509", "-inform", "DER", "-in", tool.path("cert.der"), "-noout", "-subject", "-serial"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_NE(r.out.find("CN = Holder Name"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("serial=1234"), std::string::npos) << r.out;
}

TEST_F(KeysTest, CreateCertificateRefusesNonCertificates) {
    auto garbage = create_certificate(session(), to_bytes("not DER"), Bytes{1}, "bad");
    ASSERT_FALSE(garbage);
    EXPECT_NE(garbage.error().message().find("not a DER X.509 certificate"), std::string::npos);

    Pkey key = test::openssl_ec_key("P-256");
    Bytes trailing = test::make_certificate(key.get(), "x");
    trailing.push_back(0x00);
    EXPECT_FALSE(create_certificate(session(), trailing, Bytes{1}, "bad"));
    EXPECT_FALSE(create_certificate(session(), Bytes{}, Bytes{1}, "bad"));

    AttributeTemplate certs;
    certs.add_ulong(CKA_CLASS, CKO_CERTIFICATE);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto none, session().find(certs));
    EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace attache::p11
