// The module's PKCS#11 API in this process, against a real agent on SoftHSM2: slots and token
// info, login views, objects and attributes, every operation, the output length convention,
// and what the module refuses.

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstring>
#include <set>

#include "pkcs11/forwarding/hashes.h"
#include "pkcs11/public_key.h"
#include "tests/forwarding/forwarding_fixture.h"

namespace attache::testing {
namespace {

struct PkeyCtxDeleter {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;

std::string padded(const unsigned char* field, size_t size) {
    std::string s(reinterpret_cast<const char*>(field), size);
    return s.substr(0, s.find_last_not_of(' ') + 1);
}

Bytes bytes_of(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

// OpenSSL's verdict on a PKCS#11-format signature.
bool openssl_verifies(EVP_PKEY* key, CK_MECHANISM_TYPE mech, const Bytes& data, const Bytes& sig,
                      int pss_salt = -1) {
    const int id = EVP_PKEY_get_base_id(key);
    if (id == EVP_PKEY_ED25519) {
        std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
        EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key);
        return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
    }
    const EVP_MD* md = nullptr;
    switch (mech) {
        case CKM_SHA256_RSA_PKCS:
        case CKM_SHA256_RSA_PKCS_PSS:
        case CKM_ECDSA_SHA256:
            md = EVP_sha256();
            break;
        case CKM_SHA384_RSA_PKCS:
        case CKM_ECDSA_SHA384:
            md = EVP_sha384();
            break;
        case CKM_SHA512_RSA_PKCS_PSS:
        case CKM_SHA512_RSA_PKCS:
            md = EVP_sha512();
            break;
        case CKM_SHA1_RSA_PKCS:
        case CKM_ECDSA_SHA1:
            md = EVP_sha1();
            break;
        default:
            break;
    }
    Bytes der = sig;
    if (id == EVP_PKEY_EC) {
        ECDSA_SIG* s = ECDSA_SIG_new();
        const int half = static_cast<int>(sig.size() / 2);
        ECDSA_SIG_set0(s, BN_bin2bn(sig.data(), half, nullptr),
                       BN_bin2bn(sig.data() + half, half, nullptr));
        unsigned char* out = nullptr;
        const int len = i2d_ECDSA_SIG(s, &out);
        der.assign(out, out + len);
        OPENSSL_free(out);
        ECDSA_SIG_free(s);
    }
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    EVP_PKEY_verify_init(ctx.get());
    Bytes tbs = data;
    if (md != nullptr) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_Digest(data.data(), data.size(), d, &n, md, nullptr);
        tbs.assign(d, d + n);
        EVP_PKEY_CTX_set_signature_md(ctx.get(), md);
    }
    if (mech == CKM_RSA_PKCS_PSS || mech == CKM_SHA256_RSA_PKCS_PSS ||
        mech == CKM_SHA512_RSA_PKCS_PSS) {
        if (md == nullptr) {
            md = EVP_sha256();
            EVP_PKEY_CTX_set_signature_md(ctx.get(), md);
        }
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), pss_salt);
    } else if (id == EVP_PKEY_RSA) {
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING);
    }
    return EVP_PKEY_verify(ctx.get(), der.data(), der.size(), tbs.data(), tbs.size()) == 1;
}

class ApiTest : public ForwardingTest {
  protected:
    void SetUp() override {
        start_agent();
        agent_.unlock();
        initialize();
    }
};

TEST_F(ApiTest, SlotAndTokenMirrorTheCard) {
    CK_INFO info{};
    ASSERT_EQ(p11().C_GetInfo(&info), CKR_OK);
    EXPECT_EQ(info.cryptokiVersion.major, 2);
    const CK_SLOT_ID slot = only_slot();
    CK_ULONG n = 0;
    ASSERT_EQ(p11().C_GetSlotList(CK_TRUE, nullptr, &n), CKR_OK);
    EXPECT_EQ(n, 1u);
    n = 0;
    CK_SLOT_ID none[1];
    EXPECT_EQ(p11().C_GetSlotList(CK_TRUE, none, &n), CKR_BUFFER_TOO_SMALL);
    EXPECT_EQ(n, 1u);

    CK_SLOT_INFO si{};
    ASSERT_EQ(p11().C_GetSlotInfo(slot, &si), CKR_OK);
    EXPECT_TRUE(si.flags & CKF_TOKEN_PRESENT);
    EXPECT_EQ(p11().C_GetSlotInfo(slot + 1000, &si), CKR_SLOT_ID_INVALID);

    CK_TOKEN_INFO ti{};
    ASSERT_EQ(p11().C_GetTokenInfo(slot, &ti), CKR_OK);
    auto status = agent_.client().call(protocol::StatusRequest{});
    ASSERT_TRUE(status);
    const auto& token = std::get<protocol::StatusReply>(*status).tokens.at(0);
    EXPECT_EQ(padded(ti.label, sizeof ti.label), "alice");
    EXPECT_EQ(padded(ti.serialNumber, sizeof ti.serialNumber), token.serial);
    EXPECT_EQ(padded(ti.manufacturerID, sizeof ti.manufacturerID), token.manufacturer);
    EXPECT_EQ(padded(ti.model, sizeof ti.model), token.model);
    EXPECT_TRUE(ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH);
    EXPECT_TRUE(ti.flags & CKF_LOGIN_REQUIRED);
    EXPECT_TRUE(ti.flags & CKF_TOKEN_INITIALIZED);
    EXPECT_FALSE(ti.flags & CKF_WRITE_PROTECTED);
}

TEST_F(ApiTest, LoginWithoutPinIsTheAgentsUnlockAndLogoutEndsOnlyThisView) {
    const CK_SESSION_HANDLE s = open_session(only_slot());
    CK_SESSION_INFO info{};
    // The agent is unlocked: the session starts as a user session; a logout ends the view.
    ASSERT_EQ(p11().C_GetSessionInfo(s, &info), CKR_OK);
    EXPECT_EQ(info.state, static_cast<CK_STATE>(CKS_RO_USER_FUNCTIONS));
    ASSERT_EQ(p11().C_Logout(s), CKR_OK);
    ASSERT_EQ(p11().C_GetSessionInfo(s, &info), CKR_OK);
    EXPECT_EQ(info.state, static_cast<CK_STATE>(CKS_RO_PUBLIC_SESSION));
    EXPECT_EQ(find(s, CKO_PRIVATE_KEY, "ec-sign"), CK_INVALID_HANDLE);
    EXPECT_NE(find(s, CKO_PUBLIC_KEY, "ec-sign"), CK_INVALID_HANDLE);

    ASSERT_EQ(p11().C_Login(s, CKU_USER, nullptr, 0), CKR_OK);
    EXPECT_EQ(p11().C_Login(s, CKU_USER, nullptr, 0), CKR_USER_ALREADY_LOGGED_IN);
    ASSERT_EQ(p11().C_GetSessionInfo(s, &info), CKR_OK);
    EXPECT_EQ(info.state, static_cast<CK_STATE>(CKS_RO_USER_FUNCTIONS));
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-sign");
    ASSERT_NE(key, CK_INVALID_HANDLE);

    ASSERT_EQ(p11().C_Logout(s), CKR_OK);
    EXPECT_EQ(p11().C_Logout(s), CKR_USER_NOT_LOGGED_IN);
    EXPECT_EQ(find(s, CKO_PRIVATE_KEY, "ec-sign"), CK_INVALID_HANDLE);
    CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
    EXPECT_EQ(p11().C_SignInit(s, &m, key), CKR_USER_NOT_LOGGED_IN);
    // The agent is still unlocked: other applications keep working.
    auto st = agent_.cli({"status", "--json"});
    EXPECT_NE(st.out.find("\"unlocked\": true"), std::string::npos) << st.out;

    EXPECT_EQ(p11().C_Login(s, CKU_SO, nullptr, 0), CKR_SESSION_READ_ONLY_EXISTS);
    EXPECT_EQ(p11().C_Login(s, CKU_CONTEXT_SPECIFIC, nullptr, 0), CKR_OPERATION_NOT_INITIALIZED);
}

TEST_F(ApiTest, ObjectsMirrorTheKeysAndCertificates) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    auto all = find_all(s, {});
    EXPECT_EQ(all.size(), 15u);  // 5 keys: private, public, certificate each
    for (const char* label : {"ec-sign", "rsa-sign", "ed-sign", "rsa-decrypt", "ec-derive"}) {
        SCOPED_TRACE(label);
        const auto entry = agent_.key(label);
        const CK_OBJECT_HANDLE priv = find(s, CKO_PRIVATE_KEY, label);
        const CK_OBJECT_HANDLE pub = find(s, CKO_PUBLIC_KEY, label);
        const CK_OBJECT_HANDLE cert = find(s, CKO_CERTIFICATE, label);
        ASSERT_NE(priv, CK_INVALID_HANDLE);
        ASSERT_NE(pub, CK_INVALID_HANDLE);
        ASSERT_NE(cert, CK_INVALID_HANDLE);
        for (CK_OBJECT_HANDLE h : {priv, pub, cert})
            EXPECT_EQ(attribute(s, h, CKA_ID), entry.cka_id);
        EXPECT_EQ(attribute(s, priv, CKA_SENSITIVE), Bytes{CK_TRUE});
        EXPECT_EQ(attribute(s, priv, CKA_NEVER_EXTRACTABLE), Bytes{CK_TRUE});
        EXPECT_EQ(attribute(s, priv, CKA_EXTRACTABLE), Bytes{CK_FALSE});
        EXPECT_EQ(attribute(s, priv, CKA_ALWAYS_AUTHENTICATE), Bytes{CK_FALSE});
        EXPECT_EQ(attribute(s, priv, CKA_PRIVATE), Bytes{CK_TRUE});
        EXPECT_EQ(attribute(s, cert, CKA_VALUE), certificates_.at(label));
        EXPECT_EQ(attribute(s, cert, CKA_SUBJECT), attribute(s, pub, CKA_SUBJECT));
        EXPECT_FALSE(attribute(s, cert, CKA_ISSUER).empty());
        EXPECT_FALSE(attribute(s, cert, CKA_SERIAL_NUMBER).empty());

        // The public values rebuild the agent's public key.
        p11::AttributeValues values;
        (void)values;
        const Bytes type = attribute(s, pub, CKA_KEY_TYPE);
        CK_KEY_TYPE kt;
        std::memcpy(&kt, type.data(), sizeof kt);
        Bytes spki;
        if (kt == CKK_RSA) {
            auto k = p11::rsa_public_key(attribute(s, pub, CKA_MODULUS),
                                         attribute(s, pub, CKA_PUBLIC_EXPONENT));
            ASSERT_TRUE(k);
            spki = *p11::spki_der(k->get());
            EXPECT_EQ(attribute(s, priv, CKA_MODULUS), attribute(s, pub, CKA_MODULUS));
        } else {
            auto k = p11::ec_public_key(attribute(s, pub, CKA_EC_PARAMS),
                                        attribute(s, pub, CKA_EC_POINT));
            ASSERT_TRUE(k) << k.error().message();
            spki = *p11::spki_der(k->get());
            EXPECT_EQ(attribute(s, priv, CKA_EC_PARAMS), attribute(s, pub, CKA_EC_PARAMS));
        }
        EXPECT_EQ(spki, entry.spki);
    }
    const CK_OBJECT_HANDLE ec = find(s, CKO_PRIVATE_KEY, "ec-sign");
    EXPECT_EQ(attribute(s, ec, CKA_SIGN), Bytes{CK_TRUE});
    EXPECT_EQ(attribute(s, ec, CKA_DERIVE), Bytes{CK_FALSE});
    const CK_OBJECT_HANDLE dec = find(s, CKO_PRIVATE_KEY, "rsa-decrypt");
    EXPECT_EQ(attribute(s, dec, CKA_DECRYPT), Bytes{CK_TRUE});
    EXPECT_EQ(attribute(s, dec, CKA_SIGN), Bytes{CK_FALSE});
}

TEST_F(ApiTest, GetAttributeValueFollowsTheStandard) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE rsa = find(s, CKO_PRIVATE_KEY, "rsa-sign");
    CK_KEY_TYPE type = 0;
    uint8_t small[4];
    uint8_t exp[512];
    CK_ATTRIBUTE t[] = {{CKA_KEY_TYPE, &type, sizeof type},
                        {CKA_PRIVATE_EXPONENT, exp, sizeof exp},
                        {CKA_LABEL, nullptr, 0}};
    EXPECT_EQ(p11().C_GetAttributeValue(s, rsa, t, 3), CKR_ATTRIBUTE_SENSITIVE);
    EXPECT_EQ(type, static_cast<CK_KEY_TYPE>(CKK_RSA));
    EXPECT_EQ(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    EXPECT_EQ(t[2].ulValueLen, 8u);
    CK_ATTRIBUTE too_small[] = {{CKA_MODULUS, small, sizeof small}, {CKA_KEY_TYPE, &type, 1}};
    EXPECT_EQ(p11().C_GetAttributeValue(s, rsa, too_small, 2), CKR_BUFFER_TOO_SMALL);
    EXPECT_EQ(too_small[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CK_ATTRIBUTE invalid[] = {{CKA_VALUE, small, sizeof small}, {CKA_LABEL, nullptr, 0}};
    EXPECT_EQ(p11().C_GetAttributeValue(s, rsa, invalid, 2), CKR_ATTRIBUTE_TYPE_INVALID);
    EXPECT_EQ(invalid[1].ulValueLen, 8u);
    const CK_OBJECT_HANDLE ec = find(s, CKO_PRIVATE_KEY, "ec-sign");
    CK_ATTRIBUTE ec_value{CKA_VALUE, nullptr, 0};
    EXPECT_EQ(p11().C_GetAttributeValue(s, ec, &ec_value, 1), CKR_ATTRIBUTE_SENSITIVE);
    EXPECT_EQ(p11().C_GetAttributeValue(s, 0xdead, t, 1), CKR_OBJECT_HANDLE_INVALID);
}

TEST_F(ApiTest, FindObjectsTakesAnyTemplate) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    Bytes id = agent_.key("rsa-sign").cka_id;
    EXPECT_EQ(find_all(s, {{CKA_ID, id.data(), static_cast<CK_ULONG>(id.size())}}).size(), 3u);
    CK_KEY_TYPE ec = CKK_EC;
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
    EXPECT_EQ(find_all(s, {{CKA_KEY_TYPE, &ec, sizeof ec}, {CKA_CLASS, &priv, sizeof priv}}).size(),
              2u);
    CK_BBOOL yes = CK_TRUE;
    EXPECT_EQ(find_all(s, {{CKA_DERIVE, &yes, sizeof yes}}).size(), 2u);
    uint8_t guess[32] = {};
    EXPECT_EQ(
        find_all(s, {{CKA_VALUE, guess, sizeof guess}, {CKA_CLASS, &priv, sizeof priv}}).size(),
        0u);
    ASSERT_EQ(p11().C_FindObjectsInit(s, nullptr, 0), CKR_OK);
    EXPECT_EQ(p11().C_FindObjectsInit(s, nullptr, 0), CKR_OPERATION_ACTIVE);
    EXPECT_EQ(p11().C_FindObjectsFinal(s), CKR_OK);
    EXPECT_EQ(p11().C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
}

struct SignCase {
    const char* label;
    CK_MECHANISM_TYPE mechanism;
    bool prehash;  // the mechanism signs a digest the caller made
};

TEST_F(ApiTest, EveryMechanismSignsAndOpenSslVerifies) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const Bytes data = bytes_of("the treaty text, version 3");
    const Bytes digest = p11::digest(p11::Hash::sha256, data);
    CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_RSA_PKCS_PSS_PARAMS pss512{CKM_SHA512, CKG_MGF1_SHA512, 64};
    struct Case {
        const char* label;
        CK_MECHANISM mechanism;
        Bytes input;  // what C_Sign gets
        CK_MECHANISM_TYPE verify_as;
        Bytes verify_data;  // what OpenSSL's check hashes (or not)
    };
    // CKM_RSA_PKCS signs a DigestInfo the caller built.
    Bytes digest_info = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                         0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    digest_info.insert(digest_info.end(), digest.begin(), digest.end());
    std::vector<Case> cases = {
        {"ec-sign", {CKM_ECDSA, nullptr, 0}, digest, CKM_ECDSA, digest},
        {"ec-sign", {CKM_ECDSA_SHA256, nullptr, 0}, data, CKM_ECDSA_SHA256, data},
        {"ec-sign", {CKM_ECDSA_SHA384, nullptr, 0}, data, CKM_ECDSA_SHA384, data},
        {"ec-sign", {CKM_ECDSA_SHA1, nullptr, 0}, data, CKM_ECDSA_SHA1, data},
        {"rsa-sign", {CKM_SHA256_RSA_PKCS, nullptr, 0}, data, CKM_SHA256_RSA_PKCS, data},
        {"rsa-sign", {CKM_SHA512_RSA_PKCS, nullptr, 0}, data, CKM_SHA512_RSA_PKCS, data},
        {"rsa-sign", {CKM_SHA1_RSA_PKCS, nullptr, 0}, data, CKM_SHA1_RSA_PKCS, data},
        {"rsa-sign", {CKM_RSA_PKCS, nullptr, 0}, digest_info, CKM_SHA256_RSA_PKCS, data},
        {"rsa-sign", {CKM_RSA_PKCS_PSS, &pss, sizeof pss}, digest, CKM_SHA256_RSA_PKCS_PSS, data},
        {"rsa-sign",
         {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss},
         data,
         CKM_SHA256_RSA_PKCS_PSS,
         data},
        {"rsa-sign",
         {CKM_SHA512_RSA_PKCS_PSS, &pss512, sizeof pss512},
         data,
         CKM_SHA512_RSA_PKCS_PSS,
         data},
        {"ed-sign", {CKM_EDDSA, nullptr, 0}, data, CKM_EDDSA, data},
    };
    for (auto& c : cases) {
        SCOPED_TRACE(std::string(c.label) + " mechanism " + std::to_string(c.mechanism.mechanism));
        const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, c.label);
        const Bytes sig = sign(s, c.mechanism, key, c.input);
        const int salt = c.mechanism.mechanism == CKM_SHA512_RSA_PKCS_PSS ? 64 : 32;
        EXPECT_TRUE(
            openssl_verifies(public_key(c.label).get(), c.verify_as, c.verify_data, sig, salt));
        // The module's own verification agrees, and refuses a changed signature.
        const CK_OBJECT_HANDLE pub = find(s, CKO_PUBLIC_KEY, c.label);
        ASSERT_EQ(p11().C_VerifyInit(s, &c.mechanism, pub), CKR_OK);
        Bytes in = c.input;
        Bytes sg = sig;
        EXPECT_EQ(p11().C_Verify(s, in.data(), in.size(), sg.data(), sg.size()), CKR_OK);
        sg[sg.size() / 2] ^= 1;
        ASSERT_EQ(p11().C_VerifyInit(s, &c.mechanism, pub), CKR_OK);
        EXPECT_EQ(p11().C_Verify(s, in.data(), in.size(), sg.data(), sg.size()),
                  CKR_SIGNATURE_INVALID);
    }
}

TEST_F(ApiTest, MultiPartSignaturesHashInTheModule) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const Bytes data = bytes_of("part one | part two | part three");
    for (auto [label, mech] :
         {std::pair{"ec-sign", CKM_ECDSA_SHA256}, std::pair{"rsa-sign", CKM_SHA256_RSA_PKCS},
          std::pair{"ed-sign", CKM_EDDSA}}) {
        SCOPED_TRACE(label);
        CK_MECHANISM m{mech, nullptr, 0};
        const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, label);
        ASSERT_EQ(p11().C_SignInit(s, &m, key), CKR_OK);
        Bytes a(data.begin(), data.begin() + 10), b(data.begin() + 10, data.end());
        ASSERT_EQ(p11().C_SignUpdate(s, a.data(), a.size()), CKR_OK);
        ASSERT_EQ(p11().C_SignUpdate(s, b.data(), b.size()), CKR_OK);
        CK_ULONG len = 0;
        ASSERT_EQ(p11().C_SignFinal(s, nullptr, &len), CKR_OK);
        Bytes sig(len);
        CK_ULONG small = 1;
        ASSERT_EQ(p11().C_SignFinal(s, sig.data(), &small), CKR_BUFFER_TOO_SMALL);
        EXPECT_EQ(small, len);
        ASSERT_EQ(p11().C_SignFinal(s, sig.data(), &len), CKR_OK);
        EXPECT_TRUE(openssl_verifies(public_key(label).get(), mech, data, sig));
        EXPECT_EQ(p11().C_SignFinal(s, sig.data(), &len), CKR_OPERATION_NOT_INITIALIZED);

        const CK_OBJECT_HANDLE pub = find(s, CKO_PUBLIC_KEY, label);
        ASSERT_EQ(p11().C_VerifyInit(s, &m, pub), CKR_OK);
        ASSERT_EQ(p11().C_VerifyUpdate(s, a.data(), a.size()), CKR_OK);
        ASSERT_EQ(p11().C_VerifyUpdate(s, b.data(), b.size()), CKR_OK);
        EXPECT_EQ(p11().C_VerifyFinal(s, sig.data(), sig.size()), CKR_OK);
    }
    // Raw mechanisms are single-part, as the standard says.
    CK_MECHANISM raw{CKM_ECDSA, nullptr, 0};
    ASSERT_EQ(p11().C_SignInit(s, &raw, find(s, CKO_PRIVATE_KEY, "ec-sign")), CKR_OK);
    Bytes x(32, 1);
    EXPECT_EQ(p11().C_SignUpdate(s, x.data(), x.size()), CKR_FUNCTION_NOT_SUPPORTED);
}

TEST_F(ApiTest, OutputLengthConventionKeepsTheOperationActive) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    CK_MECHANISM m{CKM_SHA256_RSA_PKCS, nullptr, 0};
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "rsa-sign");
    ASSERT_EQ(p11().C_SignInit(s, &m, key), CKR_OK);
    EXPECT_EQ(p11().C_SignInit(s, &m, key), CKR_OPERATION_ACTIVE);
    Bytes data = bytes_of("x");
    CK_ULONG len = 0;
    ASSERT_EQ(p11().C_Sign(s, data.data(), data.size(), nullptr, &len), CKR_OK);
    EXPECT_EQ(len, 256u);
    Bytes sig(len);
    CK_ULONG small = 10;
    EXPECT_EQ(p11().C_Sign(s, data.data(), data.size(), sig.data(), &small), CKR_BUFFER_TOO_SMALL);
    EXPECT_EQ(small, 256u);
    ASSERT_EQ(p11().C_Sign(s, data.data(), data.size(), sig.data(), &len), CKR_OK);
    EXPECT_EQ(p11().C_Sign(s, data.data(), data.size(), sig.data(), &len),
              CKR_OPERATION_NOT_INITIALIZED);
    // C_SignInit with no mechanism ends an active operation (PKCS#11 3.0).
    ASSERT_EQ(p11().C_SignInit(s, &m, key), CKR_OK);
    ASSERT_EQ(p11().C_SignInit(s, nullptr, key), CKR_OK);
    ASSERT_EQ(p11().C_SignInit(s, &m, key), CKR_OK);
    ASSERT_EQ(p11().C_SignInit(s, nullptr, key), CKR_OK);

    // Wrong keys and mechanisms.
    CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
    EXPECT_EQ(p11().C_SignInit(s, &ecdsa, key), CKR_KEY_TYPE_INCONSISTENT);
    EXPECT_EQ(p11().C_SignInit(s, &m, find(s, CKO_PRIVATE_KEY, "rsa-decrypt")),
              CKR_KEY_FUNCTION_NOT_PERMITTED);
    CK_MECHANISM x509{CKM_RSA_X_509, nullptr, 0};
    EXPECT_EQ(p11().C_SignInit(s, &x509, key), CKR_MECHANISM_INVALID);
    EXPECT_EQ(p11().C_SignInit(s, &m, 0xdead), CKR_KEY_HANDLE_INVALID);
}

Bytes rsa_encrypt(EVP_PKEY* key, const Bytes& plain, bool oaep) {
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    EVP_PKEY_encrypt_init(ctx.get());
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), oaep ? RSA_PKCS1_OAEP_PADDING : RSA_PKCS1_PADDING);
    size_t len = 0;
    EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plain.data(), plain.size());
    Bytes out(len);
    EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plain.data(), plain.size());
    out.resize(len);
    return out;
}

TEST_F(ApiTest, DecryptsOaepAndPkcs1WithTheLengthConvention) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "rsa-decrypt");
    const Bytes plain = bytes_of("a session key, 32 bytes long....");
    CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
    for (bool use_oaep : {true, false}) {
        SCOPED_TRACE(use_oaep ? "OAEP" : "PKCS#1 v1.5");
        Bytes ct = rsa_encrypt(public_key("rsa-decrypt").get(), plain, use_oaep);
        CK_MECHANISM m = use_oaep ? CK_MECHANISM{CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep}
                                  : CK_MECHANISM{CKM_RSA_PKCS, nullptr, 0};
        ASSERT_EQ(p11().C_DecryptInit(s, &m, key), CKR_OK);
        CK_ULONG len = 0;
        ASSERT_EQ(p11().C_Decrypt(s, ct.data(), ct.size(), nullptr, &len), CKR_OK);
        EXPECT_GE(len, plain.size());
        Bytes out(len);
        CK_ULONG small = 4;
        ASSERT_EQ(p11().C_Decrypt(s, ct.data(), ct.size(), out.data(), &small),
                  CKR_BUFFER_TOO_SMALL);
        EXPECT_EQ(small, plain.size());
        ASSERT_EQ(p11().C_Decrypt(s, ct.data(), ct.size(), out.data(), &len), CKR_OK);
        out.resize(len);
        EXPECT_EQ(out, plain);
    }
    CK_MECHANISM m{CKM_RSA_PKCS, nullptr, 0};
    ASSERT_EQ(p11().C_DecryptInit(s, &m, key), CKR_OK);
    Bytes shorter(100, 1), out(256);
    CK_ULONG len = out.size();
    EXPECT_EQ(p11().C_Decrypt(s, shorter.data(), shorter.size(), out.data(), &len),
              CKR_ENCRYPTED_DATA_LEN_RANGE);
    EXPECT_EQ(p11().C_DecryptInit(s, &m, find(s, CKO_PRIVATE_KEY, "rsa-sign")),
              CKR_KEY_FUNCTION_NOT_PERMITTED);
}

TEST_F(ApiTest, EcdhDerivesASessionSecretKey) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-derive");
    PkeyPtr peer = TestCa::generate_ec_key();
    Bytes point(65);
    size_t plen = 0;
    ASSERT_EQ(EVP_PKEY_get_octet_string_param(peer.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                              point.data(), point.size(), &plen),
              1);
    // What OpenSSL computes with the peer's private key and the card's public key.
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, peer.get(), nullptr));
    PkeyPtr card = public_key("ec-derive");
    EVP_PKEY_derive_init(ctx.get());
    EVP_PKEY_derive_set_peer(ctx.get(), card.get());
    size_t zlen = 0;
    EVP_PKEY_derive(ctx.get(), nullptr, &zlen);
    Bytes z(zlen);
    EVP_PKEY_derive(ctx.get(), z.data(), &zlen);

    CK_ECDH1_DERIVE_PARAMS params{CKD_NULL, 0, nullptr, point.size(), point.data()};
    CK_MECHANISM m{CKM_ECDH1_DERIVE, &params, sizeof params};
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &secret, sizeof secret},
                        {CKA_KEY_TYPE, &generic, sizeof generic},
                        {CKA_TOKEN, &no, sizeof no},
                        {CKA_SENSITIVE, &no, sizeof no},
                        {CKA_EXTRACTABLE, &yes, sizeof yes}};
    CK_OBJECT_HANDLE derived = 0;
    ASSERT_EQ(p11().C_DeriveKey(s, &m, key, t, 5, &derived), CKR_OK);
    EXPECT_EQ(attribute(s, derived, CKA_VALUE), z);
    EXPECT_EQ(find_all(s, {{CKA_CLASS, &secret, sizeof secret}}).size(), 1u);
    EXPECT_EQ(p11().C_DestroyObject(s, derived), CKR_OK);
    EXPECT_EQ(find_all(s, {{CKA_CLASS, &secret, sizeof secret}}).size(), 0u);

    // The DER-wrapped point (as CKA_EC_POINT holds it) is taken too; a sensitive result is
    // not readable.
    Bytes wrapped = {0x04, 0x41};
    wrapped.insert(wrapped.end(), point.begin(), point.end());
    params = {CKD_NULL, 0, nullptr, wrapped.size(), wrapped.data()};
    t[3].pValue = &yes;
    ASSERT_EQ(p11().C_DeriveKey(s, &m, key, t, 5, &derived), CKR_OK);
    CK_ATTRIBUTE value{CKA_VALUE, nullptr, 0};
    EXPECT_EQ(p11().C_GetAttributeValue(s, derived, &value, 1), CKR_ATTRIBUTE_SENSITIVE);
    // Closing the session destroys it.
    EXPECT_EQ(p11().C_CloseSession(s), CKR_OK);
    const CK_SESSION_HANDLE s2 = open_logged_in_session();
    EXPECT_EQ(p11().C_GetAttributeValue(s2, derived, &value, 1), CKR_OBJECT_HANDLE_INVALID);
    EXPECT_EQ(p11().C_DeriveKey(s2, &m, find(s2, CKO_PRIVATE_KEY, "ec-sign"), t, 5, &derived),
              CKR_KEY_FUNCTION_NOT_PERMITTED);
}

TEST_F(ApiTest, ADerivedKeyUnwrapsAnAesWrappedKey) {
    // NSS's S/MIME decryption for EC certificates: ECDH on the card gives the key-encryption
    // key, the content key is unwrapped with it (RFC 3394) in the module.
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-derive");
    PkeyPtr peer = TestCa::generate_ec_key();
    Bytes point(65);
    size_t plen = 0;
    ASSERT_EQ(EVP_PKEY_get_octet_string_param(peer.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                              point.data(), point.size(), &plen),
              1);
    CK_ECDH1_DERIVE_PARAMS params{CKD_NULL, 0, nullptr, point.size(), point.data()};
    CK_MECHANISM m{CKM_ECDH1_DERIVE, &params, sizeof params};
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &secret, sizeof secret},
                        {CKA_KEY_TYPE, &aes, sizeof aes},
                        {CKA_WRAP, &yes, sizeof yes},
                        {CKA_VALUE_LEN, &len, sizeof len}};
    CK_OBJECT_HANDLE kek = 0;
    ASSERT_EQ(p11().C_DeriveKey(s, &m, key, t, 4, &kek), CKR_OK);
    const Bytes kek_value = attribute(s, kek, CKA_VALUE);
    ASSERT_EQ(kek_value.size(), 32u);

    // OpenSSL wraps a content key with the same key-encryption key.
    const Bytes content_key(16, 0x3c);
    std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)> c(EVP_CIPHER_CTX_new(),
                                                                 EVP_CIPHER_CTX_free);
    Bytes wrapped(24);
    int n = 0, tail = 0;
    ASSERT_EQ(EVP_EncryptInit_ex(c.get(), EVP_aes_256_wrap(), nullptr, kek_value.data(), nullptr),
              1);
    ASSERT_EQ(EVP_EncryptUpdate(c.get(), wrapped.data(), &n, content_key.data(), 16), 1);
    ASSERT_EQ(EVP_EncryptFinal_ex(c.get(), wrapped.data() + n, &tail), 1);
    wrapped.resize(static_cast<size_t>(n + tail));

    CK_MECHANISM unwrap{CKM_AES_KEY_WRAP, nullptr, 0};
    CK_ATTRIBUTE target[] = {{CKA_CLASS, &secret, sizeof secret},
                             {CKA_KEY_TYPE, &aes, sizeof aes},
                             {CKA_DECRYPT, &yes, sizeof yes}};
    CK_OBJECT_HANDLE unwrapped = 0;
    ASSERT_EQ(
        p11().C_UnwrapKey(s, &unwrap, kek, wrapped.data(), wrapped.size(), target, 3, &unwrapped),
        CKR_OK);
    EXPECT_EQ(attribute(s, unwrapped, CKA_VALUE), content_key);
    // A damaged wrapping fails its integrity check.
    wrapped[3] ^= 1;
    EXPECT_EQ(
        p11().C_UnwrapKey(s, &unwrap, kek, wrapped.data(), wrapped.size(), target, 3, &unwrapped),
        CKR_WRAPPED_KEY_INVALID);
    EXPECT_EQ(p11().C_UnwrapKey(s, &unwrap, kek, wrapped.data(), 12, target, 3, &unwrapped),
              CKR_WRAPPED_KEY_LEN_RANGE);
}

TEST_F(ApiTest, MechanismListIsWhatTheAgentCanDo) {
    const CK_SLOT_ID slot = only_slot();
    CK_ULONG n = 0;
    ASSERT_EQ(p11().C_GetMechanismList(slot, nullptr, &n), CKR_OK);
    std::vector<CK_MECHANISM_TYPE> list(n);
    ASSERT_EQ(p11().C_GetMechanismList(slot, list.data(), &n), CKR_OK);
    std::set<CK_MECHANISM_TYPE> got(list.begin(), list.end());
    for (CK_MECHANISM_TYPE m :
         {CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS,
          CKM_RSA_PKCS_OAEP, CKM_ECDSA, CKM_ECDSA_SHA256, CKM_ECDH1_DERIVE, CKM_EDDSA}) {
        EXPECT_TRUE(got.count(m)) << m;
    }
    for (CK_MECHANISM_TYPE m :
         {CKM_RSA_X_509, CKM_SHA224_RSA_PKCS, CKM_AES_CBC, CKM_SHA256, CKM_RSA_PKCS_KEY_PAIR_GEN}) {
        EXPECT_FALSE(got.count(m)) << m;
    }
    CK_MECHANISM_INFO info{};
    ASSERT_EQ(p11().C_GetMechanismInfo(slot, CKM_RSA_PKCS, &info), CKR_OK);
    EXPECT_TRUE(info.flags & CKF_SIGN);
    EXPECT_TRUE(info.flags & CKF_DECRYPT);
    EXPECT_EQ(info.ulMinKeySize, 2048u);
    ASSERT_EQ(p11().C_GetMechanismInfo(slot, CKM_ECDH1_DERIVE, &info), CKR_OK);
    EXPECT_TRUE(info.flags & CKF_DERIVE);
    EXPECT_EQ(p11().C_GetMechanismInfo(slot, CKM_AES_CBC, &info), CKR_MECHANISM_INVALID);
}

TEST_F(ApiTest, NothingCreatesChangesCopiesWrapsOrDestroysKeys) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "rsa-sign");
    CK_OBJECT_HANDLE out = 0;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE extractable{CKA_EXTRACTABLE, &yes, sizeof yes};
    EXPECT_EQ(p11().C_CreateObject(s, &extractable, 1, &out), CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT_EQ(p11().C_CopyObject(s, key, &extractable, 1, &out), CKR_ACTION_PROHIBITED);
    EXPECT_EQ(p11().C_SetAttributeValue(s, key, &extractable, 1), CKR_ACTION_PROHIBITED);
    EXPECT_EQ(p11().C_DestroyObject(s, key), CKR_ACTION_PROHIBITED);
    CK_MECHANISM gen{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE a = 0, b = 0;
    EXPECT_EQ(p11().C_GenerateKeyPair(s, &gen, nullptr, 0, nullptr, 0, &a, &b),
              CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT_EQ(p11().C_GenerateKey(s, &gen, nullptr, 0, &a), CKR_FUNCTION_NOT_SUPPORTED);
    CK_ULONG len = 0;
    EXPECT_EQ(p11().C_WrapKey(s, &gen, key, key, nullptr, &len), CKR_FUNCTION_NOT_SUPPORTED);
    // Unwrapping takes only a secret key the application derived (tests/mail: S/MIME to an
    // EC certificate); a card's key never unwraps.
    unsigned char wrapped[24] = {};
    CK_MECHANISM aes_wrap{CKM_AES_KEY_WRAP, nullptr, 0};
    EXPECT_EQ(p11().C_UnwrapKey(s, &aes_wrap, key, wrapped, sizeof wrapped, nullptr, 0, &a),
              CKR_UNWRAPPING_KEY_HANDLE_INVALID);
    EXPECT_EQ(p11().C_UnwrapKey(s, &aes_wrap, key, nullptr, 0, nullptr, 0, &a), CKR_ARGUMENTS_BAD);
    unsigned char pin[] = "123456";
    EXPECT_EQ(p11().C_InitToken(only_slot(), pin, 6, pin), CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT_EQ(p11().C_InitPIN(s, pin, 6), CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT_EQ(p11().C_SetPIN(s, pin, 6, pin, 6), CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT_EQ(p11().C_EncryptInit(s, &gen, key), CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT_EQ(p11().C_DigestInit(s, &gen), CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT_EQ(p11().C_CreateObject(0xdead, &extractable, 1, &out), CKR_SESSION_HANDLE_INVALID);
    // Still there, unchanged.
    EXPECT_EQ(attribute(s, find(s, CKO_PRIVATE_KEY, "rsa-sign"), CKA_EXTRACTABLE), Bytes{CK_FALSE});
}

TEST_F(ApiTest, RandomBytesComeFromTheCard) {
    const CK_SESSION_HANDLE s = open_session(only_slot());
    Bytes a(100), b(70000);
    ASSERT_EQ(p11().C_GenerateRandom(s, a.data(), a.size()), CKR_OK);
    ASSERT_EQ(p11().C_GenerateRandom(s, b.data(), b.size()), CKR_OK);
    EXPECT_NE(a, Bytes(100, 0));
    EXPECT_NE(Bytes(b.end() - 100, b.end()), Bytes(100, 0));
    EXPECT_EQ(p11().C_SeedRandom(s, a.data(), a.size()), CKR_RANDOM_SEED_NOT_SUPPORTED);
}

TEST_F(ApiTest, InitialiseAndFinaliseFollowTheStandard) {
    EXPECT_EQ(p11().C_Initialize(nullptr), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    EXPECT_EQ(p11().C_Finalize(reinterpret_cast<void*>(1)), CKR_ARGUMENTS_BAD);
    const CK_SESSION_HANDLE s = open_session(only_slot());
    finalize();
    CK_ULONG n = 0;
    EXPECT_EQ(p11().C_GetSlotList(CK_TRUE, nullptr, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    EXPECT_EQ(p11().C_CloseSession(s), CKR_CRYPTOKI_NOT_INITIALIZED);
    EXPECT_EQ(p11().C_Finalize(nullptr), CKR_CRYPTOKI_NOT_INITIALIZED);
    CK_C_INITIALIZE_ARGS args{};
    args.pReserved = reinterpret_cast<void*>(1);
    EXPECT_EQ(p11().C_Initialize(&args), CKR_ARGUMENTS_BAD);
    initialize();
    // The slot id is the same for the life of the process; the old session is gone.
    EXPECT_EQ(p11().C_CloseSession(s), CKR_SESSION_HANDLE_INVALID);
    EXPECT_EQ(slots().size(), 1u);
}

TEST(ForwardingModule, ExportsOnlyCGetFunctionListAndRegistersNoExitHandler) {
    auto dyn = run_command({"nm", "-D", "--defined-only", forwarding_module_path()});
    ASSERT_EQ(dyn.exit_code, 0) << describe(dyn);
    EXPECT_NE(dyn.out.find(" T C_GetFunctionList"), std::string::npos) << dyn.out;
    size_t symbols = 0;
    for (char c : dyn.out)
        symbols += c == '\n';
    EXPECT_EQ(symbols, 1u) << dyn.out;
    auto undefined = run_command({"nm", "-D", "--undefined-only", forwarding_module_path()});
    EXPECT_EQ(undefined.out.find("__cxa_atexit"), std::string::npos)
        << "a static object with a destructor";
    EXPECT_EQ(undefined.out.find(" exit"), std::string::npos);
}

}  // namespace
}  // namespace attache::testing
