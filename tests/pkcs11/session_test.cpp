// Sessions: RAII, login and PIN management, random.

#include <gtest/gtest.h>

#include <string>

#include "pkcs11/session.h"
#include "tests/pkcs11/fixture.h"

namespace attache::p11 {
namespace {

using attache::testing::SoftHsm;
using test::secret;
using test::TokenTest;

using SessionTest = TokenTest;

CK_RV session_info_rv(const Module& module, CK_SESSION_HANDLE handle) {
    CK_SESSION_INFO info{};
    return module.fn()->C_GetSessionInfo(handle, &info);
}

CK_STATE state_of(const Session& session) {
    auto info = session.info();
    return info ? info->state : static_cast<CK_STATE>(-1);
}

// A private data object on the token and a public session object. (A private session object
// would not do: C_Logout destroys those.)
void create_data_objects(Session& session) {
    for (bool is_private : {true, false}) {
        AttributeTemplate t;
        t.add_ulong(CKA_CLASS, CKO_DATA)
            .add_bool(CKA_TOKEN, is_private)
            .add_bool(CKA_PRIVATE, is_private)
            .add_string(CKA_LABEL, is_private ? "private-data" : "public-data")
            .add_string(CKA_VALUE, "payload");
        auto created = session.create(t);
        ASSERT_TRUE(created) << created.error().message();
    }
}

size_t count_data_objects(const Session& session) {
    AttributeTemplate t;
    t.add_ulong(CKA_CLASS, CKO_DATA);
    auto found = session.find(t);
    return found ? found->size() : 9999;
}

TEST_F(SessionTest, ClosesOnDestruction) {
    CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
    {
        auto second = module().open_session(slot_);
        ASSERT_TRUE(second) << second.error().message();
        handle = second->handle();
        ASSERT_NE(handle, CK_INVALID_HANDLE);
        EXPECT_EQ(second->slot(), slot_);
        EXPECT_EQ(session_info_rv(module(), handle), static_cast<CK_RV>(CKR_OK));
    }
    EXPECT_EQ(session_info_rv(module(), handle), static_cast<CK_RV>(CKR_SESSION_HANDLE_INVALID));
    // The fixture's session is untouched.
    EXPECT_EQ(session_info_rv(module(), session().handle()), static_cast<CK_RV>(CKR_OK));
}

TEST_F(SessionTest, MoveTransfersOwnership) {
    auto opened = module().open_session(slot_);
    ASSERT_TRUE(opened) << opened.error().message();
    const CK_SESSION_HANDLE handle = opened->handle();

    Session moved(std::move(*opened));
    EXPECT_EQ(moved.handle(), handle);
    EXPECT_EQ(opened->handle(), CK_INVALID_HANDLE);  // NOLINT(bugprone-use-after-move)

    auto other = module().open_session(slot_);
    ASSERT_TRUE(other) << other.error().message();
    const CK_SESSION_HANDLE other_handle = other->handle();
    // Move assignment closes the session the target held.
    moved = std::move(*other);
    EXPECT_EQ(moved.handle(), other_handle);
    EXPECT_EQ(session_info_rv(module(), handle), static_cast<CK_RV>(CKR_SESSION_HANDLE_INVALID));
    EXPECT_EQ(session_info_rv(module(), other_handle), static_cast<CK_RV>(CKR_OK));
}

TEST_F(SessionTest, ReadOnlySessionRefusesTokenObjects) {
    auto ro = module().open_session(slot_, /*read_write=*/false);
    ASSERT_TRUE(ro) << ro.error().message();
    auto info = ro->info();
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_FALSE(info->flags & CKF_RW_SESSION);
    EXPECT_EQ(info->state, static_cast<CK_STATE>(CKS_RO_USER_FUNCTIONS));  // login is per token

    AttributeTemplate t;
    t.add_ulong(CKA_CLASS, CKO_DATA).add_bool(CKA_TOKEN, true).add_string(CKA_LABEL, "x");
    auto created = ro->create(t);
    ASSERT_FALSE(created);
    EXPECT_TRUE(created.error().is(CKR_SESSION_READ_ONLY)) << created.error().message();
    EXPECT_NE(created.error().message().find("CKR_SESSION_READ_ONLY"), std::string::npos);
}

TEST_F(SessionTest, LoginAndLogout) {
    EXPECT_EQ(state_of(session()), static_cast<CK_STATE>(CKS_RW_USER_FUNCTIONS));
    ASSERT_NO_FATAL_FAILURE(create_data_objects(session()));
    EXPECT_EQ(count_data_objects(session()), 2u);

    ATTACHE_ASSERT_OK(session().logout());
    EXPECT_EQ(state_of(session()), static_cast<CK_STATE>(CKS_RW_PUBLIC_SESSION));
    EXPECT_EQ(count_data_objects(session()), 1u);  // the private object is hidden
    // Logging out twice is not an error.
    ATTACHE_EXPECT_OK(session().logout());

    Secret pin = secret(SoftHsm::kUserPin);
    ATTACHE_ASSERT_OK(session().login(CKU_USER, &pin));
    EXPECT_EQ(state_of(session()), static_cast<CK_STATE>(CKS_RW_USER_FUNCTIONS));
    EXPECT_EQ(count_data_objects(session()), 2u);
    // Already logged in is an error: the token checked no PIN.
    auto again = session().login(CKU_USER, &pin);
    ASSERT_FALSE(again);
    EXPECT_TRUE(again.error().is(CKR_USER_ALREADY_LOGGED_IN)) << again.error().message();
}

TEST_F(SessionTest, WrongPinIsReportedByName) {
    ATTACHE_ASSERT_OK(session().logout());
    Secret wrong = secret("987654");
    auto login = session().login(CKU_USER, &wrong);
    ASSERT_FALSE(login);
    EXPECT_TRUE(login.error().is(CKR_PIN_INCORRECT)) << login.error().message();
    EXPECT_EQ(login.error().message(),
              "C_Login(slot " + std::to_string(slot_) + "): CKR_PIN_INCORRECT");
    EXPECT_EQ(login.error().message().find("987654"), std::string::npos);
    EXPECT_EQ(state_of(session()), static_cast<CK_STATE>(CKS_RW_PUBLIC_SESSION));

    auto info = module().token_info(slot_);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_TRUE(info->user_pin_count_low());
}

// No PIN means "the token's PIN pad": SoftHSM2 has none and says so; nothing crashes.
TEST_F(SessionTest, LoginWithoutPinOnATokenWithoutPinPad) {
    ATTACHE_ASSERT_OK(session().logout());
    auto r = session().login(CKU_USER, nullptr);
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().rv().has_value()) << r.error().message();
    EXPECT_NE(r.error().message().find("C_Login(slot " + std::to_string(slot_) + "): CKR_"),
              std::string::npos)
        << r.error().message();
    EXPECT_EQ(state_of(session()), static_cast<CK_STATE>(CKS_RW_PUBLIC_SESSION));
}

TEST_F(SessionTest, ClosingASessionDoesNotLogOut) {
    {
        auto second = module().open_session(slot_, true);
        ASSERT_TRUE(second) << second.error().message();
        EXPECT_EQ(state_of(*second), static_cast<CK_STATE>(CKS_RW_USER_FUNCTIONS));
    }
    EXPECT_EQ(state_of(session()), static_cast<CK_STATE>(CKS_RW_USER_FUNCTIONS));
}

TEST_F(SessionTest, SetPinThenLoginWithTheNewPin) {
    Secret old_pin = secret(SoftHsm::kUserPin);
    Secret new_pin = secret("24681357");
    Secret bogus = secret("11112222");
    auto refused = session().set_pin(bogus, new_pin);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().is(CKR_PIN_INCORRECT)) << refused.error().message();
    EXPECT_NE(refused.error().message().find("C_SetPIN"), std::string::npos);

    ATTACHE_ASSERT_OK(session().set_pin(old_pin, new_pin));
    ATTACHE_ASSERT_OK(session().logout());
    auto with_old = session().login(CKU_USER, &old_pin);
    ASSERT_FALSE(with_old);
    EXPECT_TRUE(with_old.error().is(CKR_PIN_INCORRECT)) << with_old.error().message();
    ATTACHE_ASSERT_OK(session().login(CKU_USER, &new_pin));
    EXPECT_EQ(state_of(session()), static_cast<CK_STATE>(CKS_RW_USER_FUNCTIONS));
}

TEST_F(SessionTest, SoLoginAndInitPin) {
    ATTACHE_ASSERT_OK(session().logout());
    Secret so_pin = secret(SoftHsm::kSoPin);
    ATTACHE_ASSERT_OK(session().login(CKU_SO, &so_pin));
    EXPECT_EQ(state_of(session()), static_cast<CK_STATE>(CKS_RW_SO_FUNCTIONS));

    Secret new_pin = secret("13572468");
    ATTACHE_ASSERT_OK(session().init_pin(new_pin));
    ATTACHE_ASSERT_OK(session().logout());

    Secret old_pin = secret(SoftHsm::kUserPin);
    auto with_old = session().login(CKU_USER, &old_pin);
    ASSERT_FALSE(with_old);
    EXPECT_TRUE(with_old.error().is(CKR_PIN_INCORRECT)) << with_old.error().message();
    ATTACHE_ASSERT_OK(session().login(CKU_USER, &new_pin));
    EXPECT_EQ(state_of(session()), static_cast<CK_STATE>(CKS_RW_USER_FUNCTIONS));
}

TEST_F(SessionTest, InitPinNeedsTheSo) {
    Secret new_pin = secret("13572468");
    auto r = session().init_pin(new_pin);  // logged in as the user, not the SO
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(CKR_USER_NOT_LOGGED_IN)) << r.error().message();
    EXPECT_NE(r.error().message().find("C_InitPIN(slot " + std::to_string(slot_) + ")"),
              std::string::npos)
        << r.error().message();
}

TEST_F(SessionTest, RandomHasTheRequestedLengthAndVaries) {
    for (size_t n : {1u, 16u, 32u, 1000u}) {
        auto r = session().random(n);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->size(), n);
    }
    auto a = session().random(32);
    auto b = session().random(32);
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
    EXPECT_NE(*a, Bytes(32, 0));

    auto none = session().random(0);
    ASSERT_TRUE(none) << none.error().message();
    EXPECT_TRUE(none->empty());
    EXPECT_FALSE(session().random(kMaxOutputSize + 1));
}

}  // namespace
}  // namespace attache::p11
