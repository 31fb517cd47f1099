// A lock that arrives while an unlock is in progress wins (a screen lock while the user types
// on a PIN pad must not leave the card unlocked).

#include <gtest/gtest.h>

#include <thread>

#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

using faulttoken::Fn;

TEST(LockRace, LockDuringALoginLeavesTheTokenLocked) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    agent.start({.fault_token = true});
    agent.fault().delay(Fn::C_Login, 1500);  // the user takes a while on the PIN pad

    std::optional<protocol::Reply> unlock_reply;
    std::thread unlocking([&] {
        auto c = agent.client();
        protocol::UnlockRequest u;
        Secret pin;
        Secret::from(SoftHsm::kUserPin, pin);
        u.pin = std::move(pin);
        auto r = c.call(protocol::Request(std::move(u)));
        if (r)
            unlock_reply = std::move(*r);
    });
    // Lock once the login has started.
    for (int i = 0; i < 500 && agent.fault().count(Fn::C_Login) == 0; ++i)
        usleep(5'000);
    ASSERT_EQ(agent.fault().count(Fn::C_Login), 1u);
    EXPECT_EQ(agent.cli({"lock"}).exit_code, 0);
    unlocking.join();

    ASSERT_TRUE(unlock_reply.has_value());
    auto* e = std::get_if<protocol::ErrorReply>(&*unlock_reply);
    ASSERT_NE(e, nullptr) << "the unlock must not win over the lock";
    EXPECT_EQ(e->code, protocol::ErrorCode::token_locked);
    auto status = agent.client().call(protocol::StatusRequest{});
    EXPECT_FALSE(std::get<protocol::StatusReply>(*status).tokens.at(0).unlocked);
    auto sign = agent.cli({"sign", "--key", agent.key("ec").id}, "x");
    EXPECT_EQ(sign.exit_code, 4) << describe(sign);
}

}  // namespace
}  // namespace attache::testing
