// AttributeTemplate and AttributeValues as units: owned storage, deep copies, typed accessors.

#include <gtest/gtest.h>

#include <cstring>

#include "pkcs11/attribute_template.h"
#include "pkcs11/attribute_values.h"

namespace attache::p11 {
namespace {

CK_ULONG ulong_at(const CK_ATTRIBUTE& a) {
    CK_ULONG v = 0;
    EXPECT_EQ(a.ulValueLen, sizeof v);
    std::memcpy(&v, a.pValue, sizeof v);
    return v;
}

TEST(AttributeTemplate, HoldsItsOwnValues) {
    AttributeTemplate t;
    {
        std::string label = "temporary";
        Bytes id = {1, 2, 3};
        t.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add_string(CKA_LABEL, label).add_bytes(CKA_ID, id);
        label.assign(label.size(), '#');
        id.assign(id.size(), 0xee);
    }
    // Growing the template must not move the stored values.
    for (int i = 0; i < 100; ++i)
        t.add_bool(CKA_VENDOR_DEFINED + static_cast<CK_ULONG>(i), i % 2 == 0);

    ASSERT_EQ(t.size(), 103u);
    EXPECT_EQ(ulong_at(t.data()[0]), static_cast<CK_ULONG>(CKO_PRIVATE_KEY));
    EXPECT_EQ(std::string(static_cast<char*>(t.data()[1].pValue), t.data()[1].ulValueLen),
              "temporary");
    EXPECT_EQ(Bytes(static_cast<uint8_t*>(t.data()[2].pValue),
                    static_cast<uint8_t*>(t.data()[2].pValue) + 3),
              (Bytes{1, 2, 3}));
    EXPECT_EQ(*static_cast<CK_BBOOL*>(t.data()[3].pValue), CK_TRUE);
    EXPECT_EQ(*static_cast<CK_BBOOL*>(t.data()[4].pValue), CK_FALSE);
    EXPECT_TRUE(t.contains(CKA_LABEL));
    EXPECT_FALSE(t.contains(CKA_VALUE));
}

TEST(AttributeTemplate, CopyIsDeep) {
    auto copy = [] {
        AttributeTemplate original;
        original.add_string(CKA_LABEL, "label").add_bytes(CKA_ID, Bytes{});
        AttributeTemplate c(original);
        EXPECT_NE(c.data()[0].pValue, original.data()[0].pValue);
        AttributeTemplate assigned;
        assigned.add_ulong(CKA_CLASS, CKO_DATA);
        assigned = original;
        EXPECT_EQ(assigned.size(), 2u);
        return c;  // the original is destroyed here
    }();
    ASSERT_EQ(copy.size(), 2u);
    EXPECT_EQ(std::string(static_cast<char*>(copy.data()[0].pValue), copy.data()[0].ulValueLen),
              "label");
    // An empty value is a NULL pointer with length 0.
    EXPECT_EQ(copy.data()[1].pValue, nullptr);
    EXPECT_EQ(copy.data()[1].ulValueLen, 0u);

    AttributeTemplate self;
    self.add_string(CKA_LABEL, "me");
    const AttributeTemplate& alias = self;
    self = alias;
    ASSERT_EQ(self.size(), 1u);
    EXPECT_EQ(std::string(static_cast<char*>(self.data()[0].pValue), 2), "me");
}

TEST(AttributeValues, TypedAccessorsCheckLengths) {
    AttributeValues v;
    CK_ULONG klass = CKO_CERTIFICATE;
    Bytes ulong_bytes(sizeof klass);
    std::memcpy(ulong_bytes.data(), &klass, sizeof klass);
    v.set(CKA_CLASS, ulong_bytes);
    v.set(CKA_TOKEN, Bytes{CK_TRUE});
    v.set(CKA_PRIVATE, Bytes{CK_FALSE});
    v.set(CKA_SIGN, Bytes{CK_TRUE, 0});  // malformed boolean
    v.set(CKA_LABEL, to_bytes("name"));

    EXPECT_EQ(v.ulong(CKA_CLASS), std::optional<CK_ULONG>(CKO_CERTIFICATE));
    EXPECT_EQ(v.boolean(CKA_TOKEN), std::optional<bool>(true));
    EXPECT_EQ(v.boolean(CKA_PRIVATE), std::optional<bool>(false));
    EXPECT_EQ(v.boolean(CKA_SIGN), std::nullopt);
    EXPECT_FALSE(v.flag(CKA_SIGN));
    EXPECT_TRUE(v.flag(CKA_TOKEN));
    EXPECT_FALSE(v.flag(CKA_DECRYPT));  // absent
    EXPECT_EQ(v.ulong(CKA_LABEL), std::nullopt);
    EXPECT_EQ(v.string(CKA_LABEL), std::optional<std::string>("name"));
    EXPECT_EQ(v.string(CKA_ID), std::nullopt);
}

}  // namespace
}  // namespace attache::p11
