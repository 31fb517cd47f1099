// Audit records: a connection writes each operation's record right after sending the reply
// (agent/core/log.h, DeferredAudit), and always before it answers that connection's next
// request.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/core/log.h"
#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

class CapturingSink : public agent::LogSink {
  public:
    void write(agent::LogLevel, std::string_view) override {}
    void audit(const agent::AuditFields& fields, std::string_view) override {
        records.push_back(fields);
    }
    std::vector<agent::AuditFields> records;
};

class DeferredAuditTest : public ::testing::Test {
  protected:
    void SetUp() override { agent::set_log_sink(&sink_); }
    void TearDown() override { agent::set_log_sink(nullptr); }
    CapturingSink sink_;
};

TEST_F(DeferredAuditTest, RecordsWaitForFlushAndAreKeptInOrder) {
    agent::DeferredAudit deferred;
    agent::audit({{"op", "sign"}, {"n", "1"}});
    agent::audit({{"op", "sign"}, {"n", "2"}});
    EXPECT_TRUE(sink_.records.empty());
    deferred.flush();
    ASSERT_EQ(sink_.records.size(), 2u);
    EXPECT_EQ(sink_.records[0][1].second, "1");
    EXPECT_EQ(sink_.records[1][1].second, "2");
    deferred.flush();
    EXPECT_EQ(sink_.records.size(), 2u) << "a flush writes each record once";
}

TEST_F(DeferredAuditTest, EndOfScopeWritesWhatIsLeftAndAuditIsDirectAgain) {
    {
        agent::DeferredAudit deferred;
        agent::audit({{"op", "decrypt"}});
    }
    ASSERT_EQ(sink_.records.size(), 1u);
    agent::audit({{"op", "sign"}});
    EXPECT_EQ(sink_.records.size(), 2u);
}

TEST(AuditTest, OperationIsInTheLogBeforeTheNextReplyOnItsConnection) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    agent.start();
    agent.unlock();
    const std::string key = agent.key("ec").id;
    auto client = agent.client();
    for (int i = 0; i < 20; ++i) {
        auto r =
            client.call(protocol::SignRequest{key, protocol::SignScheme::ecdsa, p11::Hash::sha256,
                                              false, 0, true, to_bytes("message")});
        ASSERT_TRUE(r && std::holds_alternative<protocol::SignReply>(*r));
        auto status = client.call(protocol::StatusRequest{});
        ASSERT_TRUE(status && std::holds_alternative<protocol::StatusReply>(*status));
        const std::string log = agent.log();
        size_t signs = 0;
        for (size_t at = log.find("audit: op=sign"); at != std::string::npos;
             at = log.find("audit: op=sign", at + 1)) {
            ++signs;
        }
        ASSERT_EQ(signs, static_cast<size_t>(i + 1)) << log;
    }
}

}  // namespace
}  // namespace attache::testing
