// Waiting for a token's session is fair per client (session_pool.h): round-robin across
// clients, first come first served within one. The order is read where it is decided: on a
// real pool of one session on a SoftHSM2 token, and end to end on the agent with the fault
// token slowing every signature, one client's burst against another client's one request.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/session_pool.h"
#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

using faulttoken::Fn;
using namespace std::chrono_literals;

constexpr agent::PoolClient kA = 1, kB = 2, kC = 3;

class FairPoolTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const CK_SLOT_ID slot = hsm_.add_token("fair");
        auto module = p11::Module::load(SoftHsm::module_path());
        ASSERT_TRUE(module) << module.error().message();
        pool_.emplace(std::move(*module), slot, 1);
    }
    void TearDown() override {
        for (auto& t : threads_)
            t.join();
    }

    // Queues a borrower for `client` named `name` and waits until it waits in the pool. Once
    // served it writes its name down while holding the session, so `order_` is the order of
    // service.
    void queue(agent::PoolClient client, std::string name) {
        const size_t before = pool_->waiting();
        threads_.emplace_back([this, client, name] {
            auto lease = pool_->acquire(client);
            std::lock_guard lock(mutex_);
            if (lease)
                order_.push_back(name);
            else
                ++failed_;
        });
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (pool_->waiting() == before && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
        ASSERT_EQ(pool_->waiting(), before + 1) << name << " does not wait";
    }
    std::vector<std::string> served() {
        for (auto& t : threads_)
            t.join();
        threads_.clear();
        std::lock_guard lock(mutex_);
        return order_;
    }

    SoftHsm hsm_;
    std::optional<agent::SessionPool> pool_;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::vector<std::string> order_;
    int failed_ = 0;
};

TEST_F(FairPoolTest, ASecondClientIsServedSecondNotBehindTheWholeBurst) {
    {
        auto held = pool_->acquire(kA);
        ASSERT_TRUE(held) << held.error().message();
        for (int i = 1; i <= 6; ++i)
            queue(kA, "a" + std::to_string(i));
        queue(kB, "b1");
    }
    EXPECT_EQ(served(), (std::vector<std::string>{"a1", "b1", "a2", "a3", "a4", "a5", "a6"}));
}

TEST_F(FairPoolTest, ClientsTakeTurnsAndEachClientIsServedInOrder) {
    {
        auto held = pool_->acquire(kC);
        ASSERT_TRUE(held) << held.error().message();
        for (int i = 1; i <= 4; ++i)
            queue(kA, "a" + std::to_string(i));
        queue(kB, "b1");
        queue(kB, "b2");
        queue(kC, "c1");
    }
    EXPECT_EQ(served(), (std::vector<std::string>{"a1", "b1", "c1", "a2", "b2", "a3", "a4"}));
}

TEST_F(FairPoolTest, ADiscardedSessionLetsTheNextWaiterOpenAnother) {
    {
        auto held = pool_->acquire(kA);
        ASSERT_TRUE(held) << held.error().message();
        queue(kB, "b1");
        queue(kA, "a1");
        held->discard();
    }
    EXPECT_EQ(served(), (std::vector<std::string>{"b1", "a1"}));
    EXPECT_EQ(failed_, 0);
}

TEST_F(FairPoolTest, CloseFailsTheWaitersOfEveryClientAndReopenServesAgain) {
    auto held = pool_->acquire(kA);
    ASSERT_TRUE(held) << held.error().message();
    queue(kA, "a1");
    queue(kA, "a2");
    queue(kB, "b1");
    queue(kC, "c1");
    queue(kB, "b2");
    pool_->close();
    EXPECT_TRUE(served().empty()) << "no waiter got a session of the closed pool";
    EXPECT_EQ(failed_, 5);
    EXPECT_EQ(pool_->waiting(), 0u);
    EXPECT_FALSE(pool_->acquire(kA)) << "closed until reopened";
    pool_->reopen();
    // The session leased before close() is closed when given back, not reused; a new one is
    // opened instead.
    { auto dropped = std::move(*held); }
    auto again = pool_->acquire(kB);
    ASSERT_TRUE(again) << again.error().message();
}

// End to end: one session on the token (workers_per_token = 1), each signature slowed in the
// module. A burst from this test process (one client: one process, many connections) and one
// request from the CLI (another process) just behind it.
TEST(FairPoolAgentTest, AnotherClientsRequestWaitsForAboutTwoSignaturesOfABurst) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    agent.start({.fault_token = true, .workers_per_token = 1});
    agent.unlock();
    const std::string key = agent.key("ec").id;
    constexpr int kBurst = 16;
    agent.fault().reset_counts();
    agent.fault().delay(Fn::C_Sign, 100);

    std::atomic<int> burst_done{0}, burst_ok{0};
    std::vector<std::thread> burst;
    for (int i = 0; i < kBurst; ++i) {
        burst.emplace_back([&] {
            auto client = protocol::Client::connect(agent.socket(), "burst");
            if (client) {
                auto r = client->call(protocol::SignRequest{key, protocol::SignScheme::ecdsa,
                                                            p11::Hash::sha256, false, 0, true,
                                                            to_bytes("data")});
                if (r && std::holds_alternative<protocol::SignReply>(*r))
                    ++burst_ok;
            }
            ++burst_done;
        });
    }
    // The burst is queued once its first signature is in the module and the other requests
    // had time to arrive (a late one queues behind the second client: that only helps it).
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (agent.fault().count(Fn::C_Sign) == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(50ms);
    auto second = agent.cli({"sign", "--key", key}, "data");
    const int before_second = burst_done.load();
    for (auto& t : burst)
        t.join();
    agent.fault().clear_rules();
    EXPECT_EQ(second.exit_code, 0) << describe(second) << agent.log();
    EXPECT_EQ(burst_ok.load(), kBurst) << agent.log();
    // Served after the signature running when it arrived and the burst's next one; one more
    // allowed for the CLI's own start and a loaded machine. Unfair, it waits for most of them.
    EXPECT_LE(before_second, 3) << "burst signatures done before the second client's";
    EXPECT_LT(before_second, kBurst - 2) << "the burst was not queued when it arrived";
}

}  // namespace
}  // namespace attache::testing
