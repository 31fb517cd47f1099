// Pure parts of the forwarding module: attribute semantics, options, mechanism parameters,
// objects built from the agent's key entries, the ECDH KDF.

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstring>

#include "pkcs11/forwarding/attribute_set.h"
#include "pkcs11/forwarding/derive.h"
#include "pkcs11/forwarding/key_objects.h"
#include "pkcs11/forwarding/mechanisms.h"
#include "pkcs11/forwarding/options.h"
#include "pkcs11/forwarding/slot_table.h"
#include "pkcs11/public_key.h"
#include "tests/forwarding/test_ca.h"

namespace attache::forwarding {
namespace {

using testing::PkeyPtr;

Bytes spki_of(EVP_PKEY* key) {
    auto s = p11::spki_der(key);
    EXPECT_TRUE(s);
    return *s;
}

protocol::KeyEntry entry_for(EVP_PKEY* key, protocol::KeyType type, uint32_t ops) {
    protocol::KeyEntry e;
    e.id = "0123456789abcdef";
    e.label = "k";
    e.cka_id = {1, 2, 3};
    e.type = type;
    e.served = true;
    e.operations = ops;
    e.spki = spki_of(key);
    return e;
}

TEST(AttributeSet, GetAttributeValueFillsWhatItCanAndReportsTheRest) {
    AttributeSet a;
    a.set_ulong(CKA_KEY_TYPE, CKK_RSA).set_bytes(CKA_MODULUS, Bytes(256, 0xab));
    a.set_string(CKA_LABEL, "label").set_sensitive(CKA_PRIVATE_EXPONENT);
    CK_KEY_TYPE type = 0;
    uint8_t small[8];
    CK_ATTRIBUTE t[] = {
        {CKA_KEY_TYPE, &type, sizeof type}, {CKA_PRIVATE_EXPONENT, small, sizeof small},
        {CKA_MODULUS, small, sizeof small}, {CKA_LABEL, nullptr, 0},
        {0x8000beef, small, sizeof small},
    };
    const CK_RV rv = a.read(t, 5);
    EXPECT_TRUE(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_BUFFER_TOO_SMALL ||
                rv == CKR_ATTRIBUTE_TYPE_INVALID);
    EXPECT_EQ(type, CKK_RSA);
    EXPECT_EQ(t[0].ulValueLen, sizeof(CK_KEY_TYPE));
    EXPECT_EQ(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    EXPECT_EQ(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    EXPECT_EQ(t[3].ulValueLen, 5u);
    EXPECT_EQ(t[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);

    CK_ATTRIBUTE only_sensitive{CKA_PRIVATE_EXPONENT, nullptr, 0};
    EXPECT_EQ(a.read(&only_sensitive, 1), CKR_ATTRIBUTE_SENSITIVE);
    CK_ATTRIBUTE too_small{CKA_MODULUS, small, sizeof small};
    EXPECT_EQ(a.read(&too_small, 1), CKR_BUFFER_TOO_SMALL);
    CK_ATTRIBUTE unknown{0x8000beef, nullptr, 0};
    EXPECT_EQ(a.read(&unknown, 1), CKR_ATTRIBUTE_TYPE_INVALID);
}

TEST(AttributeSet, TemplatesMatchExactValuesAndNeverSensitiveOnes) {
    AttributeSet a;
    a.set_ulong(CKA_CLASS, CKO_PRIVATE_KEY).set_bytes(CKA_ID, {1, 2}).set_sensitive(CKA_VALUE);
    CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
    uint8_t id[] = {1, 2};
    uint8_t other[] = {1, 3};
    CK_ATTRIBUTE match[] = {{CKA_CLASS, &klass, sizeof klass}, {CKA_ID, id, 2}};
    CK_ATTRIBUTE wrong[] = {{CKA_ID, other, 2}};
    CK_ATTRIBUTE longer[] = {{CKA_ID, id, 1}};
    CK_ATTRIBUTE secret[] = {{CKA_VALUE, id, 2}};
    EXPECT_TRUE(a.matches(match, 2));
    EXPECT_TRUE(a.matches(nullptr, 0));
    EXPECT_FALSE(a.matches(wrong, 1));
    EXPECT_FALSE(a.matches(longer, 1));
    EXPECT_FALSE(a.matches(secret, 1));
}

TEST(Options, HideListsAndConfigFiles) {
    Options o;
    ASSERT_TRUE(parse_hide_list(" ed25519 , rsa", o));
    EXPECT_TRUE(o.hide_ed25519);
    EXPECT_TRUE(o.hide_rsa);
    EXPECT_FALSE(o.hide_ec);
    EXPECT_EQ(o.describe(), "rsa,ed25519");
    Options bad;
    EXPECT_FALSE(parse_hide_list("dsa", bad));

    const char* text =
        "hide_key_types = [\"rsa\"]\n[program.openssl]\nhide_key_types = [\"ed25519\"]\n";
    auto in_openssl = parse_config(text, "openssl", "f");
    ASSERT_TRUE(in_openssl) << in_openssl.error().message();
    EXPECT_TRUE(in_openssl->hide_rsa && in_openssl->hide_ed25519);
    auto in_ssh = parse_config(text, "ssh", "f");
    ASSERT_TRUE(in_ssh);
    EXPECT_TRUE(in_ssh->hide_rsa);
    EXPECT_FALSE(in_ssh->hide_ed25519);
    EXPECT_FALSE(parse_config("hide = 1\n", "x", "f"));
    EXPECT_FALSE(parse_config("hide_key_types = [\"dsa\"]\n", "x", "f"));
    EXPECT_FALSE(parse_config("hide_key_types = [\n", "x", "f"));
}

TEST(Mechanisms, SignParametersAreChecked) {
    SignSpec spec;
    CK_MECHANISM ecdsa{CKM_ECDSA_SHA256, nullptr, 0};
    EXPECT_EQ(parse_sign_mechanism(ecdsa, protocol::KeyType::ec, spec), CKR_OK);
    EXPECT_TRUE(spec.prehashed);
    EXPECT_EQ(spec.wire_hash, p11::Hash::sha256);
    EXPECT_EQ(parse_sign_mechanism(ecdsa, protocol::KeyType::rsa, spec), CKR_KEY_TYPE_INCONSISTENT);

    CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM m{CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss};
    EXPECT_EQ(parse_sign_mechanism(m, protocol::KeyType::rsa, spec), CKR_OK);
    EXPECT_EQ(spec.pss_salt, 32u);
    pss.mgf = CKG_MGF1_SHA1;
    EXPECT_EQ(parse_sign_mechanism(m, protocol::KeyType::rsa, spec), CKR_MECHANISM_PARAM_INVALID);
    pss = {CKM_SHA384, CKG_MGF1_SHA384, 48};
    EXPECT_EQ(parse_sign_mechanism(m, protocol::KeyType::rsa, spec), CKR_MECHANISM_PARAM_INVALID);
    m = {CKM_RSA_PKCS_PSS, nullptr, 0};
    EXPECT_EQ(parse_sign_mechanism(m, protocol::KeyType::rsa, spec), CKR_MECHANISM_PARAM_INVALID);
    m = {CKM_SHA224_RSA_PKCS, nullptr, 0};
    EXPECT_EQ(parse_sign_mechanism(m, protocol::KeyType::rsa, spec), CKR_MECHANISM_INVALID);
    m = {CKM_RSA_X_509, nullptr, 0};
    EXPECT_EQ(parse_sign_mechanism(m, protocol::KeyType::rsa, spec), CKR_MECHANISM_INVALID);

    DecryptSpec d;
    CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
    CK_MECHANISM om{CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
    EXPECT_EQ(parse_decrypt_mechanism(om, protocol::KeyType::rsa, d), CKR_OK);
    EXPECT_EQ(d.oaep_hash, p11::Hash::sha1);
    oaep.ulSourceDataLen = 4;  // a label without its bytes
    EXPECT_EQ(parse_decrypt_mechanism(om, protocol::KeyType::rsa, d), CKR_MECHANISM_PARAM_INVALID);
}

TEST(Mechanisms, ListFollowsKeyTypesAndOperations) {
    std::vector<KeySummary> keys{{protocol::KeyType::ec, 256, protocol::kOpSign}};
    auto list = mechanism_list(keys);
    EXPECT_NE(std::find(list.begin(), list.end(), CKM_ECDSA), list.end());
    EXPECT_EQ(std::find(list.begin(), list.end(), CKM_ECDH1_DERIVE), list.end());
    EXPECT_EQ(std::find(list.begin(), list.end(), CKM_RSA_PKCS), list.end());
    CK_MECHANISM_INFO info{};
    ASSERT_TRUE(mechanism_info(CKM_ECDSA, keys, info));
    EXPECT_EQ(info.ulMinKeySize, 256u);
    EXPECT_TRUE(info.flags & CKF_SIGN);
    EXPECT_TRUE(info.flags & CKF_VERIFY);
    EXPECT_FALSE(mechanism_info(CKM_RSA_PKCS, keys, info));
}

TEST(KeyObjects, EcKeyWithCertificate) {
    testing::TestCa ca;
    PkeyPtr key = testing::TestCa::generate_ec_key();
    auto e = entry_for(key.get(), protocol::KeyType::ec, protocol::kOpSign);
    e.certificate = ca.issue(key.get(), "x", testing::Usage::sign);
    auto built = build_key_objects(e);
    ASSERT_TRUE(built) << built.error().message();
    ASSERT_EQ(built->objects.size(), 3u);
    const auto& priv = built->objects[0].attributes;
    EXPECT_TRUE(priv.flag(CKA_SENSITIVE));
    EXPECT_TRUE(priv.flag(CKA_NEVER_EXTRACTABLE));
    EXPECT_FALSE(priv.flag(CKA_EXTRACTABLE));
    EXPECT_TRUE(priv.flag(CKA_SIGN));
    EXPECT_FALSE(priv.flag(CKA_DERIVE));
    EXPECT_TRUE(priv.is_sensitive(CKA_VALUE));
    EXPECT_EQ(*priv.find(CKA_EC_PARAMS), p11::ec_params_p256());
    const auto& pub = built->objects[1].attributes;
    const Bytes* point = pub.find(CKA_EC_POINT);
    ASSERT_NE(point, nullptr);
    ASSERT_EQ(point->size(), 67u);
    EXPECT_EQ((*point)[0], 0x04);
    EXPECT_EQ((*point)[1], 65);
    EXPECT_EQ((*point)[2], 0x04);
    const auto& cert = built->objects[2].attributes;
    EXPECT_EQ(*cert.find(CKA_VALUE), e.certificate);
    EXPECT_FALSE(cert.find(CKA_SUBJECT)->empty());
    EXPECT_EQ(*cert.find(CKA_SUBJECT), *pub.find(CKA_SUBJECT));
}

TEST(KeyObjects, UnservedKeysHaveNoPrivateObjectAndLiesAreRefused) {
    PkeyPtr key = testing::TestCa::generate_ec_key();
    auto e = entry_for(key.get(), protocol::KeyType::ec, protocol::kOpSign);
    e.served = false;
    auto built = build_key_objects(e);
    ASSERT_TRUE(built);
    EXPECT_EQ(built->objects.size(), 1u);
    EXPECT_EQ(built->objects[0].klass, static_cast<CK_OBJECT_CLASS>(CKO_PUBLIC_KEY));
    e.type = protocol::KeyType::rsa;  // the SPKI says EC
    EXPECT_FALSE(build_key_objects(e));
    e.spki = {0x30, 0x03, 0x02, 0x01, 0x01};
    EXPECT_FALSE(build_key_objects(e));
    e.type = protocol::KeyType::ec;
    e.spki = spki_of(key.get());
    e.certificate = {0x30, 0x82, 0xff, 0xff};  // not a certificate: left out, key kept
    auto no_cert = build_key_objects(e);
    ASSERT_TRUE(no_cert);
    EXPECT_EQ(no_cert->objects.size(), 1u);
}

TEST(KeyObjects, DerOctetStrings) {
    for (size_t n : {0u, 1u, 65u, 127u, 128u, 200u, 255u, 256u, 1000u}) {
        Bytes content(n, 7);
        Bytes der = der_octet_string(content);
        EXPECT_EQ(der_octet_string_content(der.data(), der.size()), content) << n;
        if (n > 0) {
            EXPECT_TRUE(der_octet_string_content(der.data(), der.size() - 1).empty()) << n;
        }
    }
    const uint8_t bad_long_form[] = {0x04, 0x81, 0x05, 1, 2, 3, 4, 5};  // not minimal
    EXPECT_TRUE(der_octet_string_content(bad_long_form, sizeof bad_long_form).empty());
}

TEST(Derive, X963KdfMatchesOpenSsl) {
    EcdhSpec spec;
    spec.kdf = CKD_SHA256_KDF;
    spec.shared_data = {9, 8, 7};
    Bytes secret(32, 0x42);
    Bytes ours;
    ASSERT_EQ(derive_value(spec, secret, 40, ours), CKR_OK);
    ASSERT_EQ(ours.size(), 40u);

    EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "X963KDF", nullptr);
    ASSERT_NE(kdf, nullptr);
    EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, secret.data(), secret.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, spec.shared_data.data(),
                                          spec.shared_data.size()),
        OSSL_PARAM_construct_end()};
    Bytes theirs(40);
    ASSERT_EQ(EVP_KDF_derive(ctx, theirs.data(), theirs.size(), params), 1);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    EXPECT_EQ(ours, theirs);

    EcdhSpec raw;
    Bytes value;
    ASSERT_EQ(derive_value(raw, secret, 16, value), CKR_OK);
    EXPECT_EQ(value, Bytes(16, 0x42));
    EXPECT_EQ(derive_value(raw, secret, 33, value), CKR_KEY_SIZE_RANGE);
}

TEST(Derive, TemplatesAreCheckedAndSecretsReadableOnlyWhenAllowed) {
    CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &secret_class, sizeof secret_class},
                        {CKA_KEY_TYPE, &aes, sizeof aes},
                        {CKA_VALUE_LEN, &len, sizeof len},
                        {CKA_SENSITIVE, &yes, sizeof yes}};
    DerivedKeyTemplate parsed;
    ASSERT_EQ(parse_derived_template(t, 4, true, parsed), CKR_OK);
    AttributeSet a = secret_key_attributes(parsed, Bytes(32, 1));
    EXPECT_TRUE(a.is_sensitive(CKA_VALUE));
    DerivedKeyTemplate readable;
    ASSERT_EQ(parse_derived_template(t, 3, true, readable), CKR_OK);
    EXPECT_NE(secret_key_attributes(readable, Bytes(32, 1)).find(CKA_VALUE), nullptr);
    CK_ATTRIBUTE token[] = {{CKA_TOKEN, &yes, sizeof yes}};
    DerivedKeyTemplate rejected;
    EXPECT_EQ(parse_derived_template(token, 1, false, rejected), CKR_ATTRIBUTE_VALUE_INVALID);
    DerivedKeyTemplate no_len;
    EXPECT_EQ(parse_derived_template(t, 2, false, no_len), CKR_TEMPLATE_INCOMPLETE);
}

TEST(SlotTable, SlotIdsStayWithTheirTokenAndPresenceMovesGenerations) {
    SlotRegistry registry;
    SlotTable table(registry);
    protocol::StatusReply status;
    protocol::TokenStatus a;
    a.label = "alice";
    a.serial = "1";
    a.present = true;
    status.tokens = {a};
    table.apply(status);
    auto ids = table.list(true);
    ASSERT_EQ(ids.size(), 1u);
    const CK_SLOT_ID alice = ids[0];
    const uint64_t gen = table.find(alice)->generation;
    status.tokens[0].present = false;
    protocol::TokenStatus b = a;
    b.serial = "2";
    status.tokens.push_back(b);
    table.apply(status);
    EXPECT_NE(table.find(alice)->generation, gen);
    ids = table.list(true);
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_NE(ids[0], alice);
    EXPECT_EQ(table.list(false).size(), 2u);
    status.tokens = {a};
    table.apply(status);
    EXPECT_TRUE(table.find(alice)->present);
    CK_TOKEN_INFO info;
    fill_token_info(*table.find(alice), info);
    EXPECT_TRUE(info.flags & CKF_PROTECTED_AUTHENTICATION_PATH);
    EXPECT_TRUE(info.flags & CKF_LOGIN_REQUIRED);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(info.label), 6), "alice ");
}

}  // namespace
}  // namespace attache::forwarding
