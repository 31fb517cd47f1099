// Objects: searching by template, typed attribute reads (sensitive attributes included),
// creation, modification and destruction.

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>

#include <set>
#include <string>

#include "pkcs11/keygen.h"
#include "pkcs11/public_key.h"
#include "pkcs11/session.h"
#include "tests/pkcs11/fixture.h"
#include "tests/pkcs11/openssl_check.h"

namespace attache::p11 {
namespace {

using test::key_spec;
using test::kSignOnly;
using test::TokenTest;

using ObjectsTest = TokenTest;

Result<CK_OBJECT_HANDLE> create_data(Session& session, const std::string& label,
                                     const std::string& application, bool token = false) {
    AttributeTemplate t;
    t.add_ulong(CKA_CLASS, CKO_DATA)
        .add_bool(CKA_TOKEN, token)
        .add_bool(CKA_PRIVATE, false)
        .add_string(CKA_LABEL, label)
        .add_string(CKA_APPLICATION, application)
        .add_string(CKA_VALUE, "value of " + label);
    return session.create(t);
}

TEST_F(ObjectsTest, FindByTemplate) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(CK_OBJECT_HANDLE a, create_data(session(), "a", "app1"));
    ATTACHE_ASSERT_OK_AND_ASSIGN(CK_OBJECT_HANDLE b1, create_data(session(), "b", "app1"));
    ATTACHE_ASSERT_OK_AND_ASSIGN(CK_OBJECT_HANDLE b2, create_data(session(), "b", "app2", true));

    AttributeTemplate by_label;
    by_label.add_string(CKA_LABEL, "b");
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto bs, session().find(by_label));
    EXPECT_EQ(std::set<CK_OBJECT_HANDLE>(bs.begin(), bs.end()),
              (std::set<CK_OBJECT_HANDLE>{b1, b2}));

    AttributeTemplate two;
    two.add_string(CKA_LABEL, "b").add_string(CKA_APPLICATION, "app2");
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto only, session().find(two));
    EXPECT_EQ(only, std::vector<CK_OBJECT_HANDLE>{b2});

    AttributeTemplate token_only;
    token_only.add_ulong(CKA_CLASS, CKO_DATA).add_bool(CKA_TOKEN, true);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto tokens, session().find(token_only));
    EXPECT_EQ(tokens, std::vector<CK_OBJECT_HANDLE>{b2});

    AttributeTemplate by_class;
    by_class.add_ulong(CKA_CLASS, CKO_DATA);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto all, session().find(by_class));
    EXPECT_EQ(std::set<CK_OBJECT_HANDLE>(all.begin(), all.end()),
              (std::set<CK_OBJECT_HANDLE>{a, b1, b2}));
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto everything, session().find({}));
    EXPECT_EQ(everything.size(), 3u);

    AttributeTemplate nothing;
    nothing.add_string(CKA_LABEL, "no such label");
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto none, session().find(nothing));
    EXPECT_TRUE(none.empty());
}

// More objects than one C_FindObjects batch, and the `max` cut-off.
TEST_F(ObjectsTest, FindManyAndAtMostMax) {
    std::set<CK_OBJECT_HANDLE> created;
    for (int i = 0; i < 150; ++i) {
        ATTACHE_ASSERT_OK_AND_ASSIGN(CK_OBJECT_HANDLE h,
                                     create_data(session(), "many", std::to_string(i)));
        created.insert(h);
    }
    AttributeTemplate t;
    t.add_string(CKA_LABEL, "many");
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto found, session().find(t));
    EXPECT_EQ(found.size(), 150u);
    EXPECT_EQ(std::set<CK_OBJECT_HANDLE>(found.begin(), found.end()), created);

    ATTACHE_ASSERT_OK_AND_ASSIGN(auto few, session().find(t, 5));
    EXPECT_EQ(few.size(), 5u);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto seventy, session().find(t, 70));
    EXPECT_EQ(seventy.size(), 70u);
    // Each search was finalised: a new one can start.
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto again, session().find(t));
    EXPECT_EQ(again.size(), 150u);
}

TEST_F(ObjectsTest, TypedAttributeReads) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(CK_OBJECT_HANDLE h, create_data(session(), "typed", "app"));
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        AttributeValues v,
        session().read(h, {CKA_CLASS, CKA_TOKEN, CKA_LABEL, CKA_VALUE, CKA_APPLICATION,
                           CKA_MODULUS /* not a data-object attribute */}));
    EXPECT_EQ(v.ulong(CKA_CLASS), std::optional<CK_ULONG>(CKO_DATA));
    EXPECT_EQ(v.boolean(CKA_TOKEN), std::optional<bool>(false));
    EXPECT_EQ(v.string(CKA_LABEL), std::optional<std::string>("typed"));
    EXPECT_EQ(v.string(CKA_VALUE), std::optional<std::string>("value of typed"));
    EXPECT_EQ(v.string(CKA_APPLICATION), std::optional<std::string>("app"));
    EXPECT_FALSE(v.has(CKA_MODULUS));
    EXPECT_EQ(v.bytes(CKA_MODULUS), nullptr);
    // Typed accessors check the length.
    EXPECT_EQ(v.boolean(CKA_LABEL), std::nullopt);
    EXPECT_EQ(v.ulong(CKA_TOKEN), std::nullopt);
    EXPECT_FALSE(v.flag(CKA_LABEL));

    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes label, session().read_bytes(h, CKA_LABEL));
    EXPECT_EQ(to_string(label), "typed");
    auto missing = session().read_bytes(h, CKA_MODULUS);
    ASSERT_FALSE(missing);
    EXPECT_TRUE(missing.error().is(CKR_ATTRIBUTE_TYPE_INVALID)) << missing.error().message();
}

TEST_F(ObjectsTest, EmptyAttributeIsPresentAndEmpty) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(CK_OBJECT_HANDLE h, create_data(session(), "", "app"));
    ATTACHE_ASSERT_OK_AND_ASSIGN(AttributeValues v, session().read(h, {CKA_LABEL, CKA_CLASS}));
    ASSERT_TRUE(v.has(CKA_LABEL));
    EXPECT_TRUE(v.bytes(CKA_LABEL)->empty());
    EXPECT_EQ(v.ulong(CKA_CLASS), std::optional<CK_ULONG>(CKO_DATA));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes label, session().read_bytes(h, CKA_LABEL));
    EXPECT_TRUE(label.empty());
}

// A sensitive attribute is absent from read() while the others of the same call are filled;
// read_bytes() of it fails with the token's reason.
TEST_F(ObjectsTest, SensitiveAttributeOfAGeneratedKey) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles keys,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "secret")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        AttributeValues v, session().read(keys.private_key, {CKA_LABEL, CKA_VALUE, CKA_EC_PARAMS,
                                                             CKA_SIGN, CKA_KEY_TYPE, CKA_ID}));
    EXPECT_FALSE(v.has(CKA_VALUE));
    EXPECT_EQ(v.string(CKA_LABEL), std::optional<std::string>("secret"));
    ASSERT_TRUE(v.has(CKA_EC_PARAMS));
    EXPECT_EQ(*v.bytes(CKA_EC_PARAMS), ec_params_p256());
    EXPECT_EQ(v.boolean(CKA_SIGN), std::optional<bool>(true));
    EXPECT_EQ(v.ulong(CKA_KEY_TYPE), std::optional<CK_ULONG>(CKK_EC));
    ASSERT_TRUE(v.has(CKA_ID));
    EXPECT_EQ(*v.bytes(CKA_ID), keys.id);

    auto value = session().read_bytes(keys.private_key, CKA_VALUE);
    ASSERT_FALSE(value);
    EXPECT_TRUE(value.error().is(CKR_ATTRIBUTE_SENSITIVE)) << value.error().message();
    EXPECT_NE(value.error().message().find("CKR_ATTRIBUTE_SENSITIVE"), std::string::npos);
    EXPECT_NE(value.error().message().find("C_GetAttributeValue(object " +
                                           std::to_string(keys.private_key) + ")"),
              std::string::npos)
        << value.error().message();
}

// The contrast: an imported, non-sensitive private key reveals its value.
TEST_F(ObjectsTest, NonSensitiveImportedKeyRevealsItsValue) {
    Pkey key = test::openssl_ec_key("P-256");
    BIGNUM* d = nullptr;
    ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    Bytes scalar(32);
    ASSERT_EQ(BN_bn2binpad(d, scalar.data(), 32), 32);
    BN_clear_free(d);

    AttributeTemplate t;
    t.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .add_ulong(CKA_KEY_TYPE, CKK_EC)
        .add_bool(CKA_TOKEN, false)
        .add_bool(CKA_PRIVATE, true)
        .add_bool(CKA_SENSITIVE, false)
        .add_bool(CKA_EXTRACTABLE, true)
        .add_bool(CKA_SIGN, true)
        .add_bytes(CKA_EC_PARAMS, ec_params_p256())
        .add_bytes(CKA_VALUE, scalar)
        .add_string(CKA_LABEL, "imported");
    ATTACHE_ASSERT_OK_AND_ASSIGN(CK_OBJECT_HANDLE h, session().create(t));
    ATTACHE_ASSERT_OK_AND_ASSIGN(AttributeValues v,
                                 session().read(h, {CKA_VALUE, CKA_SENSITIVE, CKA_LOCAL}));
    ASSERT_TRUE(v.has(CKA_VALUE));
    EXPECT_EQ(*v.bytes(CKA_VALUE), scalar);
    EXPECT_EQ(v.boolean(CKA_SENSITIVE), std::optional<bool>(false));
    EXPECT_EQ(v.boolean(CKA_LOCAL), std::optional<bool>(false));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes value, session().read_bytes(h, CKA_VALUE));
    EXPECT_EQ(value, scalar);
}

TEST_F(ObjectsTest, SetAttributesAndDestroy) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(CK_OBJECT_HANDLE h, create_data(session(), "before", "app"));
    AttributeTemplate relabel;
    relabel.add_string(CKA_LABEL, "after");
    ATTACHE_ASSERT_OK(session().set_attributes(h, relabel));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes label, session().read_bytes(h, CKA_LABEL));
    EXPECT_EQ(to_string(label), "after");

    AttributeTemplate reclass;
    reclass.add_ulong(CKA_CLASS, CKO_SECRET_KEY);
    auto refused = session().set_attributes(h, reclass);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().is(CKR_ATTRIBUTE_READ_ONLY)) << refused.error().message();
    EXPECT_NE(refused.error().message().find("C_SetAttributeValue(object " + std::to_string(h)),
              std::string::npos)
        << refused.error().message();

    ATTACHE_ASSERT_OK(session().destroy(h));
    auto gone = session().read(h, {CKA_LABEL});
    ASSERT_FALSE(gone);
    EXPECT_TRUE(gone.error().is(CKR_OBJECT_HANDLE_INVALID)) << gone.error().message();
    auto again = session().destroy(h);
    ASSERT_FALSE(again);
    EXPECT_TRUE(again.error().is(CKR_OBJECT_HANDLE_INVALID)) << again.error().message();
}

TEST_F(ObjectsTest, CreateWithAnIncompleteTemplateFails) {
    AttributeTemplate t;
    t.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add_ulong(CKA_KEY_TYPE, CKK_EC);  // no key material
    auto created = session().create(t);
    ASSERT_FALSE(created);
    EXPECT_NE(created.error().message().find("C_CreateObject: CKR_TEMPLATE_INCOMPLETE"),
              std::string::npos)
        << created.error().message();
}

}  // namespace
}  // namespace attache::p11
