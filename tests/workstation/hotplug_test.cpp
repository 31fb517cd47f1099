// Cards coming and going while clients work: removal fails that token's requests cleanly and
// leaves the other token alone; re-insertion serves again without a restart; slot events
// wake the monitor between polls.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

using faulttoken::Fn;
using protocol::ErrorCode;
using Clock = std::chrono::steady_clock;

TEST(Hotplug, RemovalDuringASignatureStreamFailsCleanlyAndTheOtherTokenKeepsServing) {
    AgentFixture agent;
    const CK_SLOT_ID alice =
        agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "alice-sign", {.sign = true}}});
    agent.add_token("bob", {{p11::KeyAlgorithm::ec_p256, "bob-sign", {.sign = true}}});
    agent.start({.fault_token = true});
    agent.unlock("pkcs11:token=alice");
    agent.unlock("pkcs11:token=bob");
    const std::string alice_key = agent.key("alice-sign").id;
    const std::string bob_key = agent.key("bob-sign").id;
    const pid_t pid = agent.pid();
    // Slow signatures on alice's card, so that some are in flight when it goes.
    agent.fault().delay(Fn::C_Sign, 20, alice);

    std::atomic<bool> removed{false};
    std::atomic<bool> stop{false};
    std::atomic<int> alice_ok_before{0}, alice_failed{0}, alice_bad_code{0};
    std::atomic<int> bob_ok_after{0}, bob_failed{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 4; ++i) {
        clients.emplace_back([&] {
            // Each alice client stops after its first failure (the card is gone).
            while (!stop) {
                const bool was_removed = removed;
                auto r = sign_with(agent, alice_key);
                if (std::holds_alternative<protocol::SignReply>(r)) {
                    if (!was_removed)
                        ++alice_ok_before;
                    continue;
                }
                ++alice_failed;
                const auto code = error_of(r)->code;
                if (code != ErrorCode::token_absent && code != ErrorCode::unknown_key)
                    ++alice_bad_code;
                if (was_removed)
                    return;
            }
        });
    }
    for (int i = 0; i < 2; ++i) {
        clients.emplace_back([&] {
            while (!stop) {
                const bool was_removed = removed;
                auto r = sign_with(agent, bob_key);
                if (!std::holds_alternative<protocol::SignReply>(r))
                    ++bob_failed;
                else if (was_removed)
                    ++bob_ok_after;
            }
        });
    }
    ASSERT_TRUE(eventually([&] { return alice_ok_before >= 8; }));
    const auto pulled = Clock::now();
    agent.fault().set_absent(alice);
    removed = true;
    // The agent notices within a (generous) bound and marks the token absent.
    ASSERT_TRUE(eventually([&] { return !token_status(agent, "alice").present; }));
    const auto noticed = Clock::now() - pulled;
    EXPECT_LT(noticed, std::chrono::seconds(5));
    ASSERT_TRUE(eventually([&] { return bob_ok_after >= 20; }, std::chrono::seconds(10)));
    stop = true;
    for (auto& t : clients)
        t.join();  // nothing hangs
    EXPECT_EQ(alice_bad_code.load(), 0) << "alice's requests fail as 'card removed' or 'no key'";
    EXPECT_GT(alice_failed.load(), 0);
    EXPECT_EQ(bob_failed.load(), 0) << "bob's token is not affected";
    auto status = token_status(agent, "alice");
    EXPECT_EQ(status.lock_reason, "card removed");
    EXPECT_TRUE(token_status(agent, "bob").unlocked);
    EXPECT_NE(agent.log().find("was removed"), std::string::npos) << agent.log();

    // Back in: served again, locked, without a restart; unlocking restores service.
    agent.fault().clear_rules();
    agent.fault().reset_counts();
    agent.fault().set_present(alice);
    ASSERT_TRUE(eventually([&] { return token_status(agent, "alice").present; })) << agent.log();
    EXPECT_FALSE(token_status(agent, "alice").unlocked);
    EXPECT_EQ(agent.fault().count(Fn::C_Login), 0u) << "nothing remembered logs in again";
    auto locked = sign_with(agent, alice_key);
    ASSERT_NE(error_of(locked), nullptr);
    EXPECT_EQ(error_of(locked)->code, ErrorCode::token_locked);
    agent.unlock("pkcs11:token=alice");
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(sign_with(agent, alice_key)));
    EXPECT_EQ(agent.pid(), pid);
    EXPECT_EQ(kill(pid, 0), 0) << "the same agent process serves";
}

TEST(Hotplug, SlotEventsAreNoticedBetweenPolls) {
    AgentFixture agent;
    const CK_SLOT_ID slot =
        agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "k", {.sign = true}}});
    // A module whose C_WaitForSlotEvent works (here: answers CKR_NO_EVENT), and a poll
    // interval far longer than the test.
    agent.start({.fault_token = true,
                 .poll_interval_ms = 60'000,
                 .before_start = [](faulttoken::FaultControl& f) {
                     f.fail(Fn::C_WaitForSlotEvent, CKR_NO_EVENT);
                 }});
    EXPECT_NE(agent.log().find("reports slot events"), std::string::npos) << agent.log();
    ASSERT_TRUE(token_status(agent, "alice").present);

    agent.fault().set_absent(slot);
    // The module reports one event, then no more.
    agent.fault().clear_rules();
    agent.fault().fail(Fn::C_WaitForSlotEvent, CKR_OK, faulttoken::kAnySlot, 1);
    agent.fault().fail(Fn::C_WaitForSlotEvent, CKR_NO_EVENT);
    EXPECT_TRUE(eventually([&] { return !token_status(agent, "alice").present; })) << agent.log();

    agent.fault().set_present(slot);
    agent.fault().clear_rules();
    agent.fault().fail(Fn::C_WaitForSlotEvent, CKR_OK, faulttoken::kAnySlot, 1);
    agent.fault().fail(Fn::C_WaitForSlotEvent, CKR_NO_EVENT);
    EXPECT_TRUE(eventually([&] { return token_status(agent, "alice").present; })) << agent.log();
}

TEST(Hotplug, WithoutSlotEventsPollingNoticesWithinOneSecondOrSo) {
    AgentFixture agent;
    const CK_SLOT_ID slot =
        agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "k", {.sign = true}}});
    // The default poll interval (500 ms), and a module without C_WaitForSlotEvent (like
    // Debian 12's p11-kit proxy).
    agent.start({.fault_token = true,
                 .poll_interval_ms = 500,
                 .before_start = [](faulttoken::FaultControl& f) {
                     f.fail(Fn::C_WaitForSlotEvent, CKR_FUNCTION_NOT_SUPPORTED);
                 }});
    EXPECT_EQ(agent.log().find("reports slot events"), std::string::npos);
    agent.fault().set_absent(slot);
    EXPECT_TRUE(eventually([&] { return !token_status(agent, "alice").present; }));
    agent.fault().set_present(slot);
    EXPECT_TRUE(eventually([&] { return token_status(agent, "alice").present; }));
}

TEST(Hotplug, Sigusr1AndLockRecordWhyAndSince) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "k", {.sign = true}}});
    agent.start();
    agent.unlock();
    const uint64_t unlocked_since = token_status(agent, "alice").since;
    kill(agent.pid(), SIGUSR1);
    ASSERT_TRUE(eventually([&] { return !token_status(agent, "alice").unlocked; }));
    auto s = token_status(agent, "alice");
    EXPECT_EQ(s.lock_reason, "SIGUSR1");
    EXPECT_GE(s.since, unlocked_since);
    auto cli = agent.cli({"status"});
    EXPECT_EQ(cli.exit_code, 0) << describe(cli);
    EXPECT_NE(cli.out.find("SIGUSR1"), std::string::npos) << describe(cli);
}

}  // namespace
}  // namespace attache::testing
