// A software token (SoftHSM2) served by a pool of helper processes (agent/core/helper_pool.h):
// the further helpers start and log in at unlock, with the one PIN the user gave; concurrent
// operations run in all of them; a lock ends them; a further helper that stops locks the token
// (the user unlocks again) and costs neither the agent nor the token's own helper; a wrong
// PIN starts none. Which tokens get a pool at all is checked on its own.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/helper_pool.h"
#include "tests/agent/agent_fixture.h"
#include "tests/support/eventually.h"
#include "tests/support/proc_table.h"

namespace attache::testing {
namespace {

using namespace std::chrono_literals;

p11::SlotInfo slot_with(CK_FLAGS flags) {
    p11::SlotInfo s;
    s.flags = CKF_TOKEN_PRESENT | flags;
    return s;
}

p11::TokenInfo token_with(CK_FLAGS flags, CK_ULONG max_sessions = CK_EFFECTIVELY_INFINITE) {
    p11::TokenInfo t;
    t.flags = CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | flags;
    t.raw.ulMaxSessionCount = max_sessions;
    return t;
}

TEST(FurtherHelpers, ASoftwareTokenGetsOnePerCoreUpToFour) {
    using agent::further_helpers_for;
    EXPECT_EQ(further_helpers_for(0, 2, slot_with(0), token_with(0)), 1U);
    EXPECT_EQ(further_helpers_for(0, 1, slot_with(0), token_with(0)), 0U);
    EXPECT_EQ(further_helpers_for(0, 64, slot_with(0), token_with(0)), 3U);
    EXPECT_EQ(further_helpers_for(0, 0, slot_with(0), token_with(0)), 0U) << "cores unknown";
}

TEST(FurtherHelpers, TheConfiguredNumberWins) {
    using agent::further_helpers_for;
    EXPECT_EQ(further_helpers_for(1, 8, slot_with(0), token_with(0)), 0U);
    EXPECT_EQ(further_helpers_for(6, 2, slot_with(0), token_with(0)), 5U);
}

TEST(FurtherHelpers, CardsPinPadsAndSingleSessionTokensGetNone) {
    using agent::further_helpers_for;
    EXPECT_EQ(further_helpers_for(4, 4, slot_with(CKF_REMOVABLE_DEVICE), token_with(0)), 0U);
    EXPECT_EQ(further_helpers_for(4, 4, slot_with(CKF_HW_SLOT), token_with(0)), 0U);
    EXPECT_EQ(
        further_helpers_for(4, 4, slot_with(0), token_with(CKF_PROTECTED_AUTHENTICATION_PATH)), 0U);
    EXPECT_EQ(further_helpers_for(4, 4, slot_with(0), token_with(0, 1)), 0U);
}

class AgentHelperPool : public ::testing::Test {
  protected:
    void SetUp() override {
        agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-a", {.sign = true}}});
    }

    void start(unsigned helpers) {
        AgentOptions options;
        options.extra_config = std::string("module_process = \"helper\"\nmodule_helper = \"") +
                               ATTACHE_MODULE_HELPER_PATH +
                               "\"\nhelpers_per_token = " + std::to_string(helpers) + "\n";
        agent_.start(options);
    }

    Result<protocol::Reply> sign(const std::string& what = "through the pool") {
        auto c = agent_.client();
        return c.call(protocol::SignRequest{agent_.key("ec-a").id, protocol::SignScheme::ecdsa,
                                            p11::Hash::sha256, false, 0, true, to_bytes(what)});
    }

    bool signs() {
        auto r = sign();
        return r && std::holds_alternative<protocol::SignReply>(*r);
    }

    static std::optional<protocol::ErrorReply> error_of(const Result<protocol::Reply>& r) {
        if (!r || !std::holds_alternative<protocol::ErrorReply>(*r))
            return std::nullopt;
        return std::get<protocol::ErrorReply>(*r);
    }

    bool lock() {
        auto c = agent_.client();
        auto r = c.call(protocol::Request(protocol::LockRequest{}));
        return r && !std::holds_alternative<protocol::ErrorReply>(*r);
    }

    std::vector<pid_t> helpers() const { return children_of(agent_.pid()); }

    AgentFixture agent_;
};

TEST_F(AgentHelperPool, FurtherHelpersStartAtUnlockAndEndAtLock) {
    start(3);
    ASSERT_EQ(helpers().size(), 1U) << "locked: the token's own helper only";
    agent_.unlock();
    EXPECT_EQ(helpers().size(), 3U) << agent_.log();
    EXPECT_NE(agent_.log().find("3 helper processes serve its operations"), std::string::npos)
        << agent_.log();
    ASSERT_TRUE(signs()) << agent_.log();

    ASSERT_TRUE(lock());
    EXPECT_TRUE(eventually([&] { return helpers().size() == 1U; }, 10s))
        << helpers().size() << " helpers after the lock\n"
        << agent_.log();
    auto refused = error_of(sign());
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->code, protocol::ErrorCode::token_locked) << refused->message;
}

TEST_F(AgentHelperPool, ConcurrentSignaturesRunInEveryHelper) {
    start(2);
    agent_.unlock();
    const std::vector<pid_t> pids = helpers();
    ASSERT_EQ(pids.size(), 2U) << agent_.log();
    std::vector<unsigned long long> before;
    for (pid_t p : pids)
        before.push_back(cpu_ticks_of(p));

    // Two clients at once, each signing in turn: with one helper the second would wait for
    // the first's signature inside the one process; with two, each has a helper.
    constexpr int kPerClient = 1500;
    std::atomic<int> failures{0};
    auto client = [&] {
        auto c = agent_.client();
        const std::string key = agent_.key("ec-a").id;
        for (int i = 0; i < kPerClient; ++i) {
            auto r = c.call(protocol::SignRequest{key, protocol::SignScheme::ecdsa,
                                                  p11::Hash::sha256, false, 0, true,
                                                  to_bytes("concurrent " + std::to_string(i))});
            if (!r || !std::holds_alternative<protocol::SignReply>(*r))
                ++failures;
        }
    };
    std::thread a(client), b(client);
    a.join();
    b.join();
    EXPECT_EQ(failures.load(), 0) << agent_.log();
    for (size_t i = 0; i < pids.size(); ++i) {
        // Each helper signed: its CPU time grew (a helper with no call spends none).
        EXPECT_GT(cpu_ticks_of(pids[i]), before[i])
            << "helper " << pids[i] << " (" << (i == 0 ? "the token's own" : "a further one")
            << ") served no signature";
    }
}

TEST_F(AgentHelperPool, AFurtherHelperKilledLocksTheTokenAndUnlockStartsItAgain) {
    start(2);
    agent_.unlock();
    std::vector<pid_t> pids = helpers();
    ASSERT_EQ(pids.size(), 2U) << agent_.log();
    ASSERT_TRUE(signs());
    const pid_t own = pids[0];  // the oldest: the token's own, started with the agent
    ASSERT_EQ(kill(pids[1], SIGKILL), 0);

    ASSERT_TRUE(eventually(
        [&] {
            auto e = error_of(sign());
            return e && e->code == protocol::ErrorCode::token_locked;
        },
        10s))
        << agent_.log();
    EXPECT_NE(agent_.log().find("a helper process of its module stopped"), std::string::npos)
        << agent_.log();
    EXPECT_NE(agent_.log().find("signal 9"), std::string::npos) << agent_.log();
    ASSERT_TRUE(agent_.running()) << "the agent survives";
    EXPECT_TRUE(eventually([&] { return helpers() == std::vector<pid_t>{own}; }, 10s))
        << "the token's own helper stays, the killed one is reaped";

    // The token is present and locked, not removed: an unlock brings the pool back.
    agent_.unlock();
    EXPECT_EQ(helpers().size(), 2U) << agent_.log();
    EXPECT_EQ(helpers()[0], own);
    EXPECT_TRUE(signs()) << agent_.log();
}

TEST_F(AgentHelperPool, AWrongPinStartsNoFurtherHelper) {
    start(3);
    auto c = agent_.client();
    protocol::UnlockRequest u;
    Secret wrong;
    Secret::from("999999", wrong);
    u.pin = std::move(wrong);
    auto r = c.call(protocol::Request(std::move(u)));
    ASSERT_TRUE(r) << r.error().message();
    auto e = error_of(r);
    ASSERT_TRUE(e) << "a wrong PIN unlocked the token";
    EXPECT_EQ(e->code, protocol::ErrorCode::pin_incorrect) << e->message;
    EXPECT_EQ(helpers().size(), 1U) << "no helper was started to try the wrong PIN again";
}

TEST_F(AgentHelperPool, OneHelperPerTokenWhenConfigured) {
    start(1);
    agent_.unlock();
    EXPECT_EQ(helpers().size(), 1U) << agent_.log();
    EXPECT_TRUE(signs()) << agent_.log();
}

}  // namespace
}  // namespace attache::testing
