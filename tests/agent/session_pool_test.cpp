// How many operations the agent runs on one token at once: its session pool. Measured where it
// shows, in the module: the fault token hangs C_Sign and counts the calls that reached it.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "agent/core/session_pool.h"
#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

using faulttoken::Fn;
using namespace std::chrono_literals;

TEST(SessionPoolCapacity, DefaultIsAtLeastEightAndFollowsTheCores) {
    EXPECT_EQ(agent::session_pool_capacity(0, 2, CK_EFFECTIVELY_INFINITE), 8u);
    EXPECT_EQ(agent::session_pool_capacity(0, 1, CK_UNAVAILABLE_INFORMATION), 8u);
    EXPECT_EQ(agent::session_pool_capacity(0, 16, CK_EFFECTIVELY_INFINITE), 16u);
    EXPECT_EQ(agent::session_pool_capacity(0, 0, CK_EFFECTIVELY_INFINITE), 8u);
}

TEST(SessionPoolCapacity, ConfiguredNumberWins) {
    EXPECT_EQ(agent::session_pool_capacity(3, 2, CK_EFFECTIVELY_INFINITE), 3u);
    EXPECT_EQ(agent::session_pool_capacity(32, 2, CK_EFFECTIVELY_INFINITE), 32u);
}

TEST(SessionPoolCapacity, TokenLimitLeavesOneSessionForTheAgent) {
    EXPECT_EQ(agent::session_pool_capacity(0, 2, 4), 3u);
    EXPECT_EQ(agent::session_pool_capacity(16, 2, 5), 4u);
    EXPECT_EQ(agent::session_pool_capacity(0, 2, 1), 1u);
    EXPECT_EQ(agent::session_pool_capacity(0, 2, 9), 8u);
    EXPECT_EQ(agent::session_pool_capacity(0, 2, 100), 8u);
}

class SessionPoolTest : public ::testing::Test {
  protected:
    void start(unsigned workers_per_token) {
        agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
        agent_.start({.fault_token = true, .workers_per_token = workers_per_token});
        agent_.unlock();
        key_ = agent_.key("ec").id;
    }

    // Starts `clients` sign requests while C_Sign hangs; returns how many reached the module
    // once that number has held still for a while, then releases them all.
    uint64_t signs_in_module_at_once(int clients) {
        agent_.fault().reset_counts();
        agent_.fault().hang(Fn::C_Sign);
        std::atomic<int> ok{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < clients; ++i) {
            threads.emplace_back([&] {
                auto client = protocol::Client::connect(agent_.socket(), "pool");
                if (!client)
                    return;
                auto r = client->call(protocol::SignRequest{key_, protocol::SignScheme::ecdsa,
                                                            p11::Hash::sha256, false, 0, true,
                                                            to_bytes("data")});
                if (r && std::holds_alternative<protocol::SignReply>(*r))
                    ++ok;
            });
        }
        // Wait until the count stops growing: 1 s without change, 20 s at most.
        uint64_t seen = 0;
        auto changed = std::chrono::steady_clock::now();
        const auto deadline = changed + 20s;
        while (std::chrono::steady_clock::now() < deadline &&
               std::chrono::steady_clock::now() - changed < 1s) {
            const uint64_t now = agent_.fault().count(Fn::C_Sign);
            if (now != seen) {
                seen = now;
                changed = std::chrono::steady_clock::now();
            }
            std::this_thread::sleep_for(20ms);
        }
        agent_.fault().clear_rules();
        for (auto& t : threads)
            t.join();
        EXPECT_EQ(ok.load(), clients) << "every request completes once released";
        return seen;
    }

    AgentFixture agent_;
    std::string key_;
};

TEST_F(SessionPoolTest, ByDefaultEightOperationsRunOnATokenAtOnce) {
    start(0);
    const unsigned expected = std::max(8u, std::thread::hardware_concurrency());
    EXPECT_EQ(signs_in_module_at_once(static_cast<int>(expected) + 2), expected) << agent_.log();
}

TEST_F(SessionPoolTest, WorkersPerTokenLimitsOperationsOnATokenAtOnce) {
    start(3);
    EXPECT_EQ(signs_in_module_at_once(6), 3u) << agent_.log();
}

}  // namespace
}  // namespace attache::testing
