// A lock ends the token's login, whatever the module's C_Logout says; an unlock succeeds only
// when the token checked the PIN.

#include <gtest/gtest.h>

#include "cli/exit_codes.h"
#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

using faulttoken::Fn;

const protocol::ErrorReply* error_of(const protocol::Reply& r) {
    return std::get_if<protocol::ErrorReply>(&r);
}

class RealLockTest : public ::testing::Test {
  protected:
    void SetUp() override {
        slot_ = agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
        agent_.start({.fault_token = true});
        agent_.unlock();
        key_ = agent_.key("ec").id;
        ASSERT_EQ(agent_.cli({"sign", "--key", key_}, "x").exit_code, 0);
    }

    protocol::Reply unlock_with(const std::string& pin) {
        protocol::UnlockRequest u;
        Secret s;
        Secret::from(pin, s);
        u.pin = std::move(s);
        auto r = agent_.client().call(protocol::Request(std::move(u)));
        EXPECT_TRUE(r) << r.error().message();
        return std::move(*r);
    }

    protocol::TokenStatus status() {
        auto s = agent_.client().call(protocol::StatusRequest{});
        return std::get<protocol::StatusReply>(*s).tokens.at(0);
    }

    AgentFixture agent_;
    CK_SLOT_ID slot_ = 0;
    std::string key_;
};

TEST_F(RealLockTest, FailedLogoutClosesTheSessionsAndAWrongPinThenFails) {
    // C_Logout fails and the token stays logged in: only closing its sessions ends the login.
    agent_.fault().fail(Fn::C_Logout, CKR_DEVICE_ERROR);
    auto lock = agent_.cli({"lock"});
    EXPECT_EQ(lock.exit_code, 0) << describe(lock);
    EXPECT_GE(agent_.fault().count(Fn::C_CloseAllSessions), 1u) << agent_.log();
    EXPECT_EQ(agent_.cli({"sign", "--key", key_}, "x").exit_code, cli::kTokenLocked);

    // Before, C_Login answered CKR_USER_ALREADY_LOGGED_IN and a wrong PIN "unlocked" the card.
    agent_.fault().reset_counts();
    auto wrong = unlock_with("999999");
    ASSERT_NE(error_of(wrong), nullptr) << "a wrong PIN unlocked the token";
    EXPECT_EQ(error_of(wrong)->code, protocol::ErrorCode::pin_incorrect)
        << error_of(wrong)->message;
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 1u);
    EXPECT_FALSE(status().unlocked);
    EXPECT_EQ(agent_.cli({"sign", "--key", key_}, "x").exit_code, cli::kTokenLocked);

    auto right = unlock_with(SoftHsm::kUserPin);
    EXPECT_EQ(error_of(right), nullptr) << error_of(right)->message;
    EXPECT_EQ(agent_.cli({"sign", "--key", key_}, "x").exit_code, 0);
}

TEST_F(RealLockTest, LoginThatOutlivesEverySessionMakesTheTokenUnusableUntilRemoved) {
    // Nothing the agent can do ends the login: the token must refuse everything.
    agent_.fault().fail(Fn::C_Logout, CKR_DEVICE_ERROR);
    agent_.fault().fail(Fn::C_CloseSession, CKR_DEVICE_ERROR);
    agent_.fault().fail(Fn::C_CloseAllSessions, CKR_DEVICE_ERROR);
    auto lock = agent_.cli({"lock"});
    EXPECT_NE(lock.exit_code, 0) << describe(lock);
    EXPECT_NE(lock.err.find("remove the card"), std::string::npos) << describe(lock);

    auto sign = agent_.cli({"sign", "--key", key_}, "x");
    EXPECT_NE(sign.exit_code, 0) << describe(sign);
    EXPECT_NE(sign.err.find("remove the card"), std::string::npos) << describe(sign);

    agent_.fault().reset_counts();
    auto wrong = unlock_with("999999");
    ASSERT_NE(error_of(wrong), nullptr);
    EXPECT_NE(error_of(wrong)->message.find("remove the card"), std::string::npos)
        << error_of(wrong)->message;
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 0u);
    const auto s = status();
    EXPECT_FALSE(s.unlocked);
    EXPECT_EQ(s.lock_reason, "could not lock: remove the card");

    // Pulled and put back, the card is a new token: locked, and a right PIN unlocks it.
    agent_.fault().clear_rules();
    agent_.fault().set_absent(slot_);
    for (int i = 0; i < 200 && status().present; ++i)
        usleep(20'000);
    agent_.fault().set_present(slot_);
    for (int i = 0; i < 200 && !status().present; ++i)
        usleep(20'000);
    ASSERT_TRUE(status().present) << agent_.log();
    auto right = unlock_with(SoftHsm::kUserPin);
    EXPECT_EQ(error_of(right), nullptr) << error_of(right)->message;
    EXPECT_EQ(agent_.cli({"sign", "--key", key_}, "x").exit_code, 0) << agent_.log();
}

TEST(RealLock, NulPaddedTokenStringsAreTrimmedAndItsUriFindsIt) {
    AgentFixture agent;
    agent.add_token("tpm", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    agent.start({.fault_token = true,
                 .before_start = [](faulttoken::FaultControl& f) { f.set_nul_padded(true); }});
    auto s = agent.client().call(protocol::StatusRequest{});
    const auto token = std::get<protocol::StatusReply>(*s).tokens.at(0);
    EXPECT_EQ(token.label, "tpm");
    EXPECT_EQ(token.uri.find("%00"), std::string::npos) << token.uri;
    // The URI `status` prints names the token again.
    auto unlock = agent.cli({"unlock", "--token", token.uri, "--pin-source", "fd:0"},
                            std::string(SoftHsm::kUserPin) + "\n");
    EXPECT_EQ(unlock.exit_code, 0) << describe(unlock) << agent.log();
    EXPECT_EQ(agent.cli({"sign", "--key", agent.key("ec").id}, "x").exit_code, 0);
}

}  // namespace
}  // namespace attache::testing
