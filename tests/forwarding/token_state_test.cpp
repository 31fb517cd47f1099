// The module never disagrees with the token: its login view follows the agent (a lock from
// outside ends it, an unlock elsewhere starts it), and the standard's state and argument
// checks come in the standard's order.

#include <cstring>

#include "tests/forwarding/forwarding_fixture.h"

namespace attache::testing {
namespace {

class TokenStateTest : public ForwardingTest {
  protected:
    void SetUp() override {
        start_agent();
        agent_.unlock();
        initialize();
    }

    CK_STATE state(CK_SESSION_HANDLE s) {
        CK_SESSION_INFO info{};
        check_rv(p11().C_GetSessionInfo(s, &info), "C_GetSessionInfo");
        return info.state;
    }

    void lock_from_outside() {
        auto r = agent_.cli({"lock"});
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    }
};

TEST_F(TokenStateTest, AnUnlockedAgentGivesUserSessionsWithoutAPrompt) {
    // NSS (Thunderbird, Firefox) asks for a login, and shows its protected-authentication
    // dialog, whenever a session reads as public: with the agent unlocked it must not.
    const CK_SESSION_HANDLE s = open_session(only_slot());
    EXPECT_EQ(state(s), static_cast<CK_STATE>(CKS_RO_USER_FUNCTIONS));
    EXPECT_NE(find(s, CKO_PRIVATE_KEY, "ec-sign"), CK_INVALID_HANDLE);
    // The application's own login is accepted once, as on a card.
    EXPECT_EQ(p11().C_Login(s, CKU_USER, nullptr, 0), CKR_OK);
    EXPECT_EQ(p11().C_Login(s, CKU_USER, nullptr, 0), CKR_USER_ALREADY_LOGGED_IN);
}

TEST_F(TokenStateTest, ALockFromOutsideEndsTheViewAndLoginUnlocksAgain) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-sign");
    ASSERT_NE(key, CK_INVALID_HANDLE);
    lock_from_outside();

    // Object visibility follows the agent (C_FindObjectsInit asks when it matters).
    EXPECT_EQ(find(s, CKO_PRIVATE_KEY, "ec-sign"), CK_INVALID_HANDLE);
    EXPECT_NE(find(s, CKO_PUBLIC_KEY, "ec-sign"), CK_INVALID_HANDLE);
    EXPECT_EQ(state(s), static_cast<CK_STATE>(CKS_RO_PUBLIC_SESSION));
    CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
    EXPECT_EQ(p11().C_SignInit(s, &m, key), CKR_USER_NOT_LOGGED_IN);

    // C_Login is the agent's unlock again (here with the PIN), not "already logged in".
    auto* pin = reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(SoftHsm::kUserPin));
    EXPECT_EQ(p11().C_Login(s, CKU_USER, pin, std::strlen(SoftHsm::kUserPin)), CKR_OK);
    EXPECT_EQ(state(s), static_cast<CK_STATE>(CKS_RO_USER_FUNCTIONS));
    // A handle of the earlier view is gone for good; the key has a new one.
    EXPECT_EQ(p11().C_SignInit(s, &m, key), CKR_KEY_HANDLE_INVALID);
    const CK_OBJECT_HANDLE again = find(s, CKO_PRIVATE_KEY, "ec-sign");
    ASSERT_NE(again, CK_INVALID_HANDLE);
    EXPECT_NE(again, key);
    const Bytes digest(32, 0x5a);
    EXPECT_EQ(sign(s, m, again, digest).size(), 64u);
}

TEST_F(TokenStateTest, ALockNoticedByAnOperationEndsTheView) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-sign");
    ASSERT_NE(key, CK_INVALID_HANDLE);
    lock_from_outside();
    CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
    ASSERT_EQ(p11().C_SignInit(s, &m, key), CKR_OK);  // no round trip: the module's own view
    Bytes digest(32, 0x11), sig(64);
    CK_ULONG len = sig.size();
    EXPECT_EQ(p11().C_Sign(s, digest.data(), digest.size(), sig.data(), &len),
              CKR_USER_NOT_LOGGED_IN);
    // The reply said token_locked: no further request is needed to know.
    EXPECT_EQ(state(s), static_cast<CK_STATE>(CKS_RO_PUBLIC_SESSION));
    EXPECT_NE(p11().C_Login(s, CKU_USER, nullptr, 0), CKR_USER_ALREADY_LOGGED_IN);
}

TEST_F(TokenStateTest, LogoutEndsOnlyThisViewAndPrivateHandlesWithIt) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-sign");
    ASSERT_NE(key, CK_INVALID_HANDLE);
    ASSERT_EQ(p11().C_Logout(s), CKR_OK);
    EXPECT_EQ(p11().C_Logout(s), CKR_USER_NOT_LOGGED_IN);
    EXPECT_EQ(state(s), static_cast<CK_STATE>(CKS_RO_PUBLIC_SESSION));
    EXPECT_EQ(find(s, CKO_PRIVATE_KEY, "ec-sign"), CK_INVALID_HANDLE);
    CK_ATTRIBUTE label{CKA_LABEL, nullptr, 0};
    EXPECT_EQ(p11().C_GetAttributeValue(s, key, &label, 1), CKR_OBJECT_HANDLE_INVALID);
    auto st = agent_.cli({"status", "--json"});
    EXPECT_NE(st.out.find("\"unlocked\": true"), std::string::npos) << st.out;

    ASSERT_EQ(p11().C_Login(s, CKU_USER, nullptr, 0), CKR_OK);
    CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
    EXPECT_EQ(p11().C_SignInit(s, &m, key), CKR_KEY_HANDLE_INVALID);
    EXPECT_EQ(p11().C_GetAttributeValue(s, key, &label, 1), CKR_OBJECT_HANDLE_INVALID);
    EXPECT_NE(find(s, CKO_PRIVATE_KEY, "ec-sign"), CK_INVALID_HANDLE);
}

TEST_F(TokenStateTest, LoginChecksTheSessionFirstThenTheState) {
    CK_UTF8CHAR huge[600];
    std::memset(huge, '1', sizeof huge);
    EXPECT_EQ(p11().C_Login(0xdead, CKU_USER, huge, sizeof huge), CKR_SESSION_HANDLE_INVALID);
    EXPECT_EQ(p11().C_Login(0xdead, CKU_SO, nullptr, 0), CKR_SESSION_HANDLE_INVALID);
    const CK_SESSION_HANDLE s = open_session(only_slot());
    EXPECT_EQ(p11().C_Login(s, CKU_USER, nullptr, 5), CKR_ARGUMENTS_BAD);
    // A read-only session exists.
    EXPECT_EQ(p11().C_Login(s, CKU_SO, nullptr, 0), CKR_SESSION_READ_ONLY_EXISTS);
    EXPECT_EQ(p11().C_Login(s, 77, nullptr, 0), CKR_USER_TYPE_INVALID);
    ASSERT_EQ(p11().C_CloseSession(s), CKR_OK);
    CK_SESSION_HANDLE rw = 0;
    ASSERT_EQ(p11().C_OpenSession(only_slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                  nullptr, &rw),
              CKR_OK);
    // The user's view is on (the agent is unlocked): SO may not log in.
    EXPECT_EQ(p11().C_Login(rw, CKU_SO, nullptr, 0), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    ASSERT_EQ(p11().C_Logout(rw), CKR_OK);
    EXPECT_EQ(p11().C_Login(rw, CKU_SO, nullptr, 0), CKR_USER_TYPE_INVALID);
}

TEST_F(TokenStateTest, RefusedChangesCheckArgumentsAndHandlesFirst) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-sign");
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t{CKA_EXTRACTABLE, &yes, sizeof yes};
    CK_OBJECT_HANDLE out = 0;
    EXPECT_EQ(p11().C_SetAttributeValue(0xdead, key, &t, 1), CKR_SESSION_HANDLE_INVALID);
    EXPECT_EQ(p11().C_SetAttributeValue(s, key, nullptr, 1), CKR_ARGUMENTS_BAD);
    EXPECT_EQ(p11().C_SetAttributeValue(s, 0xdead, &t, 1), CKR_OBJECT_HANDLE_INVALID);
    EXPECT_EQ(p11().C_SetAttributeValue(s, key, &t, 1), CKR_ACTION_PROHIBITED);
    EXPECT_EQ(p11().C_CopyObject(s, key, nullptr, 1, &out), CKR_ARGUMENTS_BAD);
    EXPECT_EQ(p11().C_CopyObject(s, key, &t, 1, nullptr), CKR_ARGUMENTS_BAD);
    EXPECT_EQ(p11().C_CopyObject(s, 0xdead, &t, 1, &out), CKR_OBJECT_HANDLE_INVALID);
    EXPECT_EQ(p11().C_CopyObject(s, key, &t, 1, &out), CKR_ACTION_PROHIBITED);
}

TEST_F(TokenStateTest, OnlyKeysSignAndOneOperationAtATime) {
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE cert = find(s, CKO_CERTIFICATE, "ec-sign");
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-sign");
    const CK_OBJECT_HANDLE pub = find(s, CKO_PUBLIC_KEY, "ec-sign");
    const CK_OBJECT_HANDLE rsa = find(s, CKO_PRIVATE_KEY, "rsa-decrypt");
    ASSERT_NE(cert, CK_INVALID_HANDLE);
    CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
    EXPECT_EQ(p11().C_SignInit(s, &ecdsa, cert), CKR_KEY_HANDLE_INVALID);
    EXPECT_EQ(p11().C_VerifyInit(s, &ecdsa, cert), CKR_KEY_HANDLE_INVALID);

    ASSERT_EQ(p11().C_SignInit(s, &ecdsa, key), CKR_OK);
    EXPECT_EQ(p11().C_VerifyInit(s, &ecdsa, pub), CKR_OPERATION_ACTIVE);
    CK_MECHANISM pkcs1{CKM_RSA_PKCS, nullptr, 0};
    EXPECT_EQ(p11().C_DecryptInit(s, &pkcs1, rsa), CKR_OPERATION_ACTIVE);
    EXPECT_EQ(p11().C_FindObjectsInit(s, nullptr, 0), CKR_OPERATION_ACTIVE);
    ASSERT_EQ(p11().C_SignInit(s, nullptr, key), CKR_OK);  // ends it (PKCS#11 3.0)

    ASSERT_EQ(p11().C_FindObjectsInit(s, nullptr, 0), CKR_OK);
    EXPECT_EQ(p11().C_SignInit(s, &ecdsa, key), CKR_OPERATION_ACTIVE);
    EXPECT_EQ(p11().C_DecryptInit(s, &pkcs1, rsa), CKR_OPERATION_ACTIVE);
    ASSERT_EQ(p11().C_FindObjectsFinal(s), CKR_OK);
    ASSERT_EQ(p11().C_DecryptInit(s, &pkcs1, rsa), CKR_OK);
    EXPECT_EQ(p11().C_VerifyInit(s, &ecdsa, pub), CKR_OPERATION_ACTIVE);
}

TEST_F(TokenStateTest, OaepHashesTheTokenLacksAreRefusedAtInit) {
    // SoftHSM2 2.6 does OAEP with SHA-1 only: SHA-256 fails at C_DecryptInit, where a
    // mechanism error may be returned, and keeps failing there.
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE rsa = find(s, CKO_PRIVATE_KEY, "rsa-decrypt");
    CK_RSA_PKCS_OAEP_PARAMS sha256{CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
    CK_MECHANISM oaep256{CKM_RSA_PKCS_OAEP, &sha256, sizeof sha256};
    EXPECT_EQ(p11().C_DecryptInit(s, &oaep256, rsa), CKR_MECHANISM_PARAM_INVALID);
    EXPECT_EQ(p11().C_DecryptInit(s, &oaep256, rsa), CKR_MECHANISM_PARAM_INVALID);
    CK_RSA_PKCS_OAEP_PARAMS sha1{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
    CK_MECHANISM oaep1{CKM_RSA_PKCS_OAEP, &sha1, sizeof sha1};
    EXPECT_EQ(p11().C_DecryptInit(s, &oaep1, rsa), CKR_OK);
}

}  // namespace
}  // namespace attache::testing
