// Lock state through the agent: one C_Login per unlock, never a retry; PIN flags honoured.

#include <gtest/gtest.h>

#include "cli/exit_codes.h"
#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

using faulttoken::Fn;

class UnlockTest : public ::testing::Test {
  protected:
    void SetUp() override {
        agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-sign", {.sign = true}}});
        agent_.start({.fault_token = true});
        agent_.fault().reset_counts();
    }

    protocol::Reply unlock_with(const std::string& pin, bool confirm = false) {
        auto c = agent_.client();
        protocol::UnlockRequest u;
        u.confirm_final_try = confirm;
        Secret s;
        Secret::from(pin, s);
        u.pin = std::move(s);
        auto r = c.call(protocol::Request(std::move(u)));
        EXPECT_TRUE(r) << r.error().message();
        return std::move(*r);
    }

    protocol::Reply sign(const std::string& key) {
        auto c = agent_.client();
        protocol::SignRequest s;
        s.key = key;
        s.scheme = protocol::SignScheme::ecdsa;
        s.data = to_bytes("hello");
        auto r = c.call(s);
        EXPECT_TRUE(r) << r.error().message();
        return std::move(*r);
    }

    AgentFixture agent_;
};

const protocol::ErrorReply* error_of(const protocol::Reply& r) {
    return std::get_if<protocol::ErrorReply>(&r);
}

TEST_F(UnlockTest, RightPinUnlocksWithExactlyOneLogin) {
    auto r = unlock_with(SoftHsm::kUserPin);
    ASSERT_EQ(error_of(r), nullptr) << error_of(r)->message;
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 1u);
    // A second unlock of an unlocked token does not log in again.
    auto again = unlock_with(SoftHsm::kUserPin);
    ASSERT_TRUE(std::holds_alternative<protocol::UnlockReply>(again));
    EXPECT_TRUE(std::get<protocol::UnlockReply>(again).already_unlocked);
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 1u);
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(sign(agent_.key("ec-sign").id)));
}

TEST_F(UnlockTest, WrongPinIsReportedOnceAndNeverRetried) {
    agent_.fault().set_max_pin_tries(3);
    auto r = unlock_with("000000");
    const auto* e = error_of(r);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, protocol::ErrorCode::pin_incorrect);
    EXPECT_EQ(e->ckr, CKR_PIN_INCORRECT);
    EXPECT_NE(e->message.find("CKR_PIN_INCORRECT"), std::string::npos) << e->message;
    EXPECT_TRUE(e->token_flags & CKF_USER_PIN_COUNT_LOW);
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 1u);
    // The token stays locked.
    const auto locked_reply = sign(agent_.key("ec-sign").id);
    const auto* locked = error_of(locked_reply);
    ASSERT_NE(locked, nullptr);
    EXPECT_EQ(locked->code, protocol::ErrorCode::token_locked);
    EXPECT_NE(locked->message.find("attache unlock"), std::string::npos);
}

TEST_F(UnlockTest, CliWrongPinExitCodeAndMessage) {
    auto r = agent_.cli({"unlock", "--pin-source", "fd:0", "--verbose"}, "999999\n");
    EXPECT_EQ(r.exit_code, cli::kWrongPin) << describe(r);
    EXPECT_NE(r.err.find("PIN was not accepted"), std::string::npos) << describe(r);
    EXPECT_NE(r.err.find("CKR_PIN_INCORRECT"), std::string::npos) << describe(r);  // --verbose
    EXPECT_EQ(r.err.find("999999"), std::string::npos) << "the PIN must never be echoed";
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 1u);
    EXPECT_EQ(agent_.log().find("999999"), std::string::npos) << "the PIN must never be logged";
}

TEST_F(UnlockTest, FinalTryIsNeverSpentOnAClientsWord) {
    agent_.fault().set_pin_flags(CKF_USER_PIN_FINAL_TRY);
    auto r = unlock_with(SoftHsm::kUserPin);
    const auto* e = error_of(r);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, protocol::ErrorCode::final_try);
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 0u);

    auto cli =
        agent_.cli({"unlock", "--pin-source", "fd:0"}, std::string(SoftHsm::kUserPin) + "\n");
    EXPECT_EQ(cli.exit_code, cli::kFinalTry) << describe(cli);
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 0u);

    // The protocol's confirm flag is a client's say-so: only the user, in the agent's own
    // dialog, spends the last try (a confirmation this agent's pinentry cannot show here).
    auto flagged = unlock_with(SoftHsm::kUserPin, /*confirm=*/true);
    const auto* still = error_of(flagged);
    ASSERT_NE(still, nullptr);
    EXPECT_EQ(still->code, protocol::ErrorCode::final_try);
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 0u);
}

TEST_F(UnlockTest, BlockedPinGetsNoLogin) {
    agent_.fault().set_pin_flags(CKF_USER_PIN_LOCKED);
    auto r = unlock_with(SoftHsm::kUserPin, true);
    const auto* e = error_of(r);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, protocol::ErrorCode::pin_locked);
    EXPECT_NE(e->message.find("attache pin unblock"), std::string::npos) << e->message;
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 0u);

    auto cli = agent_.cli({"unlock", "--pin-source", "fd:0"}, "123456\n");
    EXPECT_EQ(cli.exit_code, cli::kPinBlocked) << describe(cli);
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 0u);
}

TEST_F(UnlockTest, TheLastTryIsRefusedToClientsAfterWrongPins) {
    agent_.fault().set_max_pin_tries(2);
    const auto first_reply = unlock_with("000000");
    const auto* first = error_of(first_reply);
    ASSERT_NE(first, nullptr);
    EXPECT_TRUE(first->token_flags & CKF_USER_PIN_FINAL_TRY);
    // The last try is refused without the user's confirmation, and no C_Login happens, with
    // or without the client's flag.
    for (bool flag : {false, true}) {
        const auto reply = unlock_with("000000", flag);
        const auto* e = error_of(reply);
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->code, protocol::ErrorCode::final_try);
        EXPECT_TRUE(e->token_flags & CKF_USER_PIN_FINAL_TRY);
    }
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 1u);
}

TEST_F(UnlockTest, PinPadTokenUnlocksWithoutPin) {
    agent_.fault().set_pin_flags(CKF_PROTECTED_AUTHENTICATION_PATH);
    agent_.fault().set_pinpad_pin(SoftHsm::kUserPin);
    // The agent notices the new flags at its next poll.
    for (int i = 0; i < 200; ++i) {
        auto s = agent_.client().call(protocol::StatusRequest{});
        if (std::get<protocol::StatusReply>(*s).tokens.at(0).flags &
            CKF_PROTECTED_AUTHENTICATION_PATH) {
            break;
        }
        usleep(10'000);
    }
    auto r = agent_.cli({"unlock"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(agent_.fault().count(Fn::C_Login), 1u);
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(sign(agent_.key("ec-sign").id)));
}

TEST_F(UnlockTest, LockLogsOutAndRefusesOperations) {
    ASSERT_EQ(error_of(unlock_with(SoftHsm::kUserPin)), nullptr);
    auto r = agent_.cli({"lock"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_NE(r.out.find("locked 1 token"), std::string::npos) << describe(r);
    EXPECT_GE(agent_.fault().count(Fn::C_Logout), 1u);
    auto sig = agent_.cli({"sign", "--key", agent_.key("ec-sign").id}, "data");
    EXPECT_EQ(sig.exit_code, cli::kTokenLocked) << describe(sig);
    EXPECT_NE(sig.err.find("attache unlock"), std::string::npos) << describe(sig);
    auto status = agent_.cli({"status", "--json"});
    EXPECT_NE(status.out.find("\"lock_reason\": \"lock request\""), std::string::npos)
        << describe(status);
}

TEST_F(UnlockTest, SigusrOneLocks) {
    ASSERT_EQ(error_of(unlock_with(SoftHsm::kUserPin)), nullptr);
    kill(agent_.pid(), SIGUSR1);
    for (int i = 0; i < 200; ++i) {
        auto s = agent_.client().call(protocol::StatusRequest{});
        if (!std::get<protocol::StatusReply>(*s).tokens.at(0).unlocked)
            return;
        usleep(10'000);
    }
    FAIL() << "SIGUSR1 did not lock the token";
}

TEST_F(UnlockTest, IdleTimeoutLocks) {
    agent_.stop();
    AgentFixture idle;
    idle.add_token("bob", {{p11::KeyAlgorithm::ec_p256, "k", {.sign = true}}});
    idle.start({.extra_config = "idle_lock_seconds = 1"});
    idle.unlock();
    for (int i = 0; i < 300; ++i) {
        auto s = idle.client().call(protocol::StatusRequest{});
        const auto& t = std::get<protocol::StatusReply>(*s).tokens.at(0);
        if (!t.unlocked) {
            EXPECT_EQ(t.lock_reason, "idle");
            return;
        }
        usleep(20'000);
    }
    FAIL() << "the idle timeout did not lock the token";
}

}  // namespace
}  // namespace attache::testing
