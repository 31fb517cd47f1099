// PKCS#11 URIs: parsing (and refusing), matching tokens and modules, finding objects, and the
// canonical URIs Attache prints.

#include <gtest/gtest.h>

#include <cstring>

#include "pkcs11/keygen.h"
#include "pkcs11/uri.h"
#include "tests/pkcs11/fixture.h"

namespace attache::p11 {
namespace {

using test::key_spec;
using test::kSignOnly;
using test::TokenTest;

using UriTest = TokenTest;

std::string parse_error(std::string_view text) {
    auto uri = Uri::parse(text);
    if (uri)
        return "(parsed)";
    EXPECT_FALSE(uri.error().rv().has_value());
    return uri.error().message();
}

TEST(UriParse, EmptyUriMatchesEverythingAndNamesNothing) {
    auto uri = Uri::parse("pkcs11:");
    ASSERT_TRUE(uri) << uri.error().message();
    EXPECT_FALSE(uri->names_token());
    EXPECT_FALSE(uri->names_object());
    EXPECT_TRUE(uri->object_template().empty());
    EXPECT_EQ(uri->id(), std::nullopt);
    EXPECT_EQ(uri->object_label(), std::nullopt);
    EXPECT_EQ(uri->object_class(), std::nullopt);
    EXPECT_EQ(uri->str(), "pkcs11:");
    EXPECT_EQ(Uri().str(), "pkcs11:");
}

TEST(UriParse, ObjectAttributes) {
    auto uri = Uri::parse("pkcs11:token=alice;object=my%20key;type=private;id=%01%ff%00");
    ASSERT_TRUE(uri) << uri.error().message();
    EXPECT_TRUE(uri->names_token());
    EXPECT_TRUE(uri->names_object());
    EXPECT_EQ(uri->object_label(), std::optional<std::string>("my key"));
    EXPECT_EQ(uri->id(), std::optional<Bytes>(Bytes{0x01, 0xff, 0x00}));
    EXPECT_EQ(uri->object_class(), std::optional<CK_OBJECT_CLASS>(CKO_PRIVATE_KEY));
    EXPECT_EQ(uri->str(), "pkcs11:token=alice;object=my%20key;type=private;id=%01%ff%00");

    AttributeTemplate t = uri->object_template();
    EXPECT_EQ(t.size(), 3u);
    EXPECT_TRUE(t.contains(CKA_CLASS));
    EXPECT_TRUE(t.contains(CKA_LABEL));
    EXPECT_TRUE(t.contains(CKA_ID));
}

TEST(UriParse, BadPercentEncoding) {
    const std::string m = parse_error("pkcs11:id=%zz");
    EXPECT_NE(m.find("invalid PKCS#11 URI"), std::string::npos) << m;
    EXPECT_NE(m.find("pkcs11:id=%zz"), std::string::npos) << m;
    EXPECT_NE(m.find("encod"), std::string::npos) << m;  // p11-kit: "...bad encoding"
}

TEST(UriParse, WrongScheme) {
    const std::string m = parse_error("http://x");
    EXPECT_NE(m.find("invalid PKCS#11 URI 'http://x'"), std::string::npos) << m;
    EXPECT_NE(m.find("scheme"), std::string::npos) << m;
}

TEST(UriParse, PinValueIsRefusedWithoutEchoingThePin) {
    const std::string m = parse_error("pkcs11:object=a?pin-value=1234");
    EXPECT_NE(m.find("pin-value"), std::string::npos) << m;
    EXPECT_NE(m.find("pkcs11:object=a"), std::string::npos) << m;
    EXPECT_EQ(m.find("1234"), std::string::npos) << m;
}

// However else the URI is wrong, an error message never repeats a PIN it carries.
TEST(UriParse, ErrorsNeverEchoAPin) {
    for (const char* text : {"pkcs11:id=%zz?pin-value=4711", "pkcs11:object=a;pin-value=4711",
                             "pkcs11:object=a;x-unknown=1?pin-value=4711"}) {
        const std::string m = parse_error(text);
        EXPECT_NE(m, "(parsed)") << text;
        EXPECT_EQ(m.find("4711"), std::string::npos) << text << " -> " << m;
    }
}

TEST(UriParse, UnrecognisedAttributeIsRefused) {
    const std::string m = parse_error("pkcs11:object=a;x-vendor-thing=1");
    EXPECT_NE(m.find("not understood"), std::string::npos) << m;
}

TEST_F(UriTest, MatchesToken) {
    const std::string canonical = Uri::for_token(token_);
    auto uri = Uri::parse(canonical);
    ASSERT_TRUE(uri) << uri.error().message();
    EXPECT_TRUE(uri->names_token());
    EXPECT_TRUE(uri->matches_token(token_)) << canonical;
    EXPECT_NE(canonical.find("token=attache-test"), std::string::npos) << canonical;
    EXPECT_NE(canonical.find("serial=" + token_.serial), std::string::npos) << canonical;

    auto by_label = Uri::parse("pkcs11:token=attache-test");
    ASSERT_TRUE(by_label);
    EXPECT_TRUE(by_label->matches_token(token_));
    auto other = Uri::parse("pkcs11:token=someone-else");
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->matches_token(token_));
    auto wrong_serial = Uri::parse("pkcs11:token=attache-test;serial=0000");
    ASSERT_TRUE(wrong_serial);
    EXPECT_FALSE(wrong_serial->matches_token(token_));
    EXPECT_TRUE(Uri().matches_token(token_));
}

TEST_F(UriTest, MatchesModuleAndSlot) {
    auto info = module().info();
    ASSERT_TRUE(info) << info.error().message();
    auto softhsm = Uri::parse("pkcs11:library-manufacturer=SoftHSM");
    ASSERT_TRUE(softhsm);
    EXPECT_TRUE(softhsm->matches_module(*info));
    auto other = Uri::parse("pkcs11:library-manufacturer=OpenSC%20Project");
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->matches_module(*info));

    CK_SLOT_INFO raw{};
    ASSERT_EQ(module().fn()->C_GetSlotInfo(slot_, &raw), static_cast<CK_RV>(CKR_OK));
    auto this_slot = Uri::parse("pkcs11:slot-id=" + std::to_string(slot_));
    ASSERT_TRUE(this_slot) << this_slot.error().message();
    EXPECT_TRUE(this_slot->matches_slot(slot_, raw));
    EXPECT_FALSE(this_slot->matches_slot(slot_ + 1, raw));
    EXPECT_TRUE(Uri().matches_slot(slot_, raw));
}

TEST_F(UriTest, FindsObjectsThroughTheTemplate) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles signer,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "signer")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles other,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ed25519, kSignOnly, "other")));

    auto private_uri = Uri::parse("pkcs11:token=attache-test;object=signer;type=private");
    ASSERT_TRUE(private_uri) << private_uri.error().message();
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto found, session().find(private_uri->object_template()));
    EXPECT_EQ(found, std::vector<CK_OBJECT_HANDLE>{signer.private_key});

    auto both_halves = Uri::parse("pkcs11:object=signer");
    ASSERT_TRUE(both_halves);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto halves, session().find(both_halves->object_template()));
    EXPECT_EQ(halves.size(), 2u);

    auto nothing = Uri::parse("pkcs11:object=signer;type=cert");
    ASSERT_TRUE(nothing);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto none, session().find(nothing->object_template()));
    EXPECT_TRUE(none.empty());

    auto no_label = Uri::parse("pkcs11:object=nobody");
    ASSERT_TRUE(no_label);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto none2, session().find(no_label->object_template()));
    EXPECT_TRUE(none2.empty());

    auto other_public = Uri::parse("pkcs11:object=other;type=public");
    ASSERT_TRUE(other_public);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto public_found,
                                 session().find(other_public->object_template()));
    EXPECT_EQ(public_found, std::vector<CK_OBJECT_HANDLE>{other.public_key});
}

// Uri::for_object -> Uri::parse -> the same object, with awkward labels and ids.
TEST_F(UriTest, ForObjectRoundTrips) {
    KeyPairSpec spec = key_spec(KeyAlgorithm::ec_p256, kSignOnly, "k;e/y ?=%\xc3\xa4");
    spec.id = Bytes{0x00, 0xff, 0x25, 0x3b, 0x20};
    ATTACHE_ASSERT_OK_AND_ASSIGN(KeyPairHandles keys, generate_key_pair(session(), spec));
    // A decoy whose label is a prefix of the real one.
    ATTACHE_ASSERT_OK(
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "k")));

    const std::string text = uri_of(CKO_PRIVATE_KEY, spec.id, spec.label);
    EXPECT_TRUE(text.starts_with("pkcs11:")) << text;
    EXPECT_EQ(text.find(' '), std::string::npos) << text;
    auto uri = Uri::parse(text);
    ASSERT_TRUE(uri) << uri.error().message() << " for " << text;
    EXPECT_EQ(uri->id(), std::optional<Bytes>(spec.id));
    EXPECT_EQ(uri->object_label(), std::optional<std::string>(spec.label));
    EXPECT_EQ(uri->object_class(), std::optional<CK_OBJECT_CLASS>(CKO_PRIVATE_KEY));
    EXPECT_TRUE(uri->matches_token(token_));
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto found, session().find(uri->object_template()));
    EXPECT_EQ(found, std::vector<CK_OBJECT_HANDLE>{keys.private_key});

    const std::string pub_text = uri_of(CKO_PUBLIC_KEY, spec.id, "");
    auto pub = Uri::parse(pub_text);
    ASSERT_TRUE(pub) << pub.error().message();
    EXPECT_EQ(pub->object_label(), std::nullopt);
    ATTACHE_ASSERT_OK_AND_ASSIGN(auto pub_found, session().find(pub->object_template()));
    EXPECT_EQ(pub_found, std::vector<CK_OBJECT_HANDLE>{keys.public_key});
}

}  // namespace
}  // namespace attache::p11
