// Error values and the names of PKCS#11 constants that messages are made of.

#include <gtest/gtest.h>

#include <string>

#include "pkcs11/names.h"
#include "pkcs11/result.h"

namespace attache {
namespace {

TEST(Error, Pkcs11MessageNamesCallObjectAndRv) {
    Error e =
        Error::pkcs11(CKR_KEY_FUNCTION_NOT_PERMITTED, "C_Sign", "pkcs11:token=alice;object=sign");
    EXPECT_EQ(e.message(),
              "C_Sign(pkcs11:token=alice;object=sign): CKR_KEY_FUNCTION_NOT_PERMITTED");
    EXPECT_EQ(e.rv(), std::optional<CK_RV>(CKR_KEY_FUNCTION_NOT_PERMITTED));
    EXPECT_TRUE(e.is(CKR_KEY_FUNCTION_NOT_PERMITTED));
    EXPECT_FALSE(e.is(CKR_OK));

    Error bare = Error::pkcs11(CKR_PIN_INCORRECT, "C_Login");
    EXPECT_EQ(bare.message(), "C_Login: CKR_PIN_INCORRECT");

    Error unknown = Error::pkcs11(CKR_VENDOR_DEFINED | 0x42, "C_Foo", "x");
    EXPECT_EQ(unknown.message(), "C_Foo(x): 0x80000042");
}

TEST(Error, ContextPrependsAndKeepsTheRv) {
    const Error e = Error::pkcs11(CKR_DEVICE_REMOVED, "C_Sign", "k");
    Error copy = e.context("signing the challenge");
    EXPECT_EQ(copy.message(), "signing the challenge: C_Sign(k): CKR_DEVICE_REMOVED");
    EXPECT_TRUE(copy.is(CKR_DEVICE_REMOVED));
    EXPECT_EQ(e.message(), "C_Sign(k): CKR_DEVICE_REMOVED");  // the original is untouched

    Error moved = Error("plain").context("outer");
    EXPECT_EQ(moved.message(), "outer: plain");
    EXPECT_FALSE(moved.rv().has_value());
}

TEST(Result, ValueOrError) {
    Result<int> good = 7;
    ASSERT_TRUE(good);
    EXPECT_EQ(*good, 7);
    EXPECT_EQ(good.value_or(3), 7);
    Result<int> bad = Error("nope");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "nope");
    EXPECT_EQ(bad.value_or(3), 3);

    Status fine = attache::ok();
    EXPECT_TRUE(fine);
    Status failed = Error::pkcs11(CKR_GENERAL_ERROR, "C_X");
    ASSERT_FALSE(failed);
    EXPECT_TRUE(failed.error().is(CKR_GENERAL_ERROR));
}

}  // namespace
}  // namespace attache

namespace attache::p11 {
namespace {

TEST(Names, ReturnValues) {
    // Every CK_RV a token commonly returns has its name, the small values included.
    for (auto [rv, name] : std::initializer_list<std::pair<CK_RV, const char*>>{
             {CKR_OK, "CKR_OK"},
             {CKR_CANCEL, "CKR_CANCEL"},
             {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
             {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
             {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
             {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
             {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
             {CKR_NO_EVENT, "CKR_NO_EVENT"},
             {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
             {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
             {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
             {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID"},
             {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
             {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
             {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
             {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
             {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
             {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
         }) {
        EXPECT_EQ(rv_name(rv), name);
        EXPECT_EQ(rv_from_name(name), std::optional<CK_RV>(rv)) << name;
    }
    EXPECT_EQ(rv_name(0x12345678), "0x12345678");
    EXPECT_EQ(rv_from_name("CKR_NOT_A_THING"), std::nullopt);
}

TEST(Names, MechanismsAndKeyTypes) {
    EXPECT_EQ(mechanism_name(CKM_ECDSA), "CKM_ECDSA");
    EXPECT_EQ(mechanism_name(CKM_RSA_PKCS_PSS), "CKM_RSA_PKCS_PSS");
    EXPECT_EQ(mechanism_name(CKM_EDDSA), "CKM_EDDSA");
    EXPECT_EQ(mechanism_name(CKM_SHA256_RSA_PKCS), "CKM_SHA256_RSA_PKCS");
    EXPECT_EQ(mechanism_from_name("CKM_ECDH1_DERIVE"),
              std::optional<CK_MECHANISM_TYPE>(CKM_ECDH1_DERIVE));
    EXPECT_EQ(mechanism_from_name("CKM_NOPE"), std::nullopt);
    EXPECT_EQ(mechanism_name(CKM_VENDOR_DEFINED | 1), "0x80000001");
    EXPECT_EQ(key_type_name(CKK_EC), "CKK_EC");
    EXPECT_EQ(key_type_name(CKK_EC_EDWARDS), "CKK_EC_EDWARDS");
    EXPECT_EQ(key_type_name(CKK_RSA), "CKK_RSA");
}

}  // namespace
}  // namespace attache::p11
