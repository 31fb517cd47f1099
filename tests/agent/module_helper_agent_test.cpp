// The agent with module_process = "helper": a module that crashes inside C_Sign costs its
// card until the supervisor has started the helper again; the client gets a clear error, the
// card comes back locked, and the user unlocks it again (the agent never kept the PIN).

#include <gtest/gtest.h>

#include <string>

#include "tests/agent/agent_fixture.h"
#include "tests/support/eventually.h"

namespace attache::testing {
namespace {

using faulttoken::Fn;

class AgentModuleHelperTest : public ::testing::Test {
  protected:
    void SetUp() override {
        agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-a", {.sign = true}}});
        AgentOptions options;
        options.fault_token = true;
        options.extra_config = std::string("module_process = \"helper\"\nmodule_helper = \"") +
                               ATTACHE_MODULE_HELPER_PATH + "\"\nmodule_call_timeout_ms = 30000\n";
        agent_.start(options);
        agent_.unlock();
        key_id_ = agent_.key("ec-a").id;  // listed only while the card is present
    }

    Result<protocol::Reply> sign() {
        auto c = agent_.client();
        return c.call(protocol::SignRequest{key_id_, protocol::SignScheme::ecdsa, p11::Hash::sha256,
                                            false, 0, true, to_bytes("through the helper")});
    }

    // The reply's error, or nullopt for any other reply.
    static std::optional<protocol::ErrorReply> error_of(const Result<protocol::Reply>& r) {
        if (!r || !std::holds_alternative<protocol::ErrorReply>(*r))
            return std::nullopt;
        return std::get<protocol::ErrorReply>(*r);
    }

    AgentFixture agent_;
    std::string key_id_;
};

TEST_F(AgentModuleHelperTest, SignsThroughTheHelper) {
    auto r = sign();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(*r)) << agent_.log();
    EXPECT_NE(agent_.log().find("runs in helper process"), std::string::npos) << agent_.log();
}

TEST_F(AgentModuleHelperTest, CrashInSignCostsTheCardUntilRestartAndUnlock) {
    ASSERT_TRUE(std::holds_alternative<protocol::SignReply>(*sign()));
    agent_.fault().crash(Fn::C_Sign);

    auto crashed = error_of(sign());
    ASSERT_TRUE(crashed) << agent_.log();
    EXPECT_EQ(crashed->code, protocol::ErrorCode::token_absent) << crashed->message;
    EXPECT_NE(crashed->message.find("the card's module stopped"), std::string::npos)
        << crashed->message;
    EXPECT_NE(crashed->message.find("SIGABRT"), std::string::npos) << crashed->message;
    EXPECT_NE(crashed->message.find("C_Sign"), std::string::npos) << crashed->message;
    ASSERT_TRUE(agent_.running()) << "the agent itself survives";

    agent_.fault().clear_rules();
    // The supervisor starts the helper again after its back-off; the card is back, locked.
    ASSERT_TRUE(eventually(
        [&] {
            auto e = error_of(sign());
            return e && e->code == protocol::ErrorCode::token_locked;
        },
        std::chrono::seconds(20)))
        << agent_.log();
    EXPECT_NE(agent_.log().find("started again"), std::string::npos) << agent_.log();

    agent_.unlock();
    auto again = sign();
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(*again)) << agent_.log();
}

// Two modules, each in its helper: the fault token (showing alice only) and SoftHSM2 itself
// (alice and bob). The fault token's helper crashing in C_GetSlotList (its watcher's poll)
// costs its own card; bob, on the other module, keeps signing throughout.
TEST(AgentModuleHelpers, CrashOfOneModuleLeavesAnotherModulesCardSigning) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-alice", {.sign = true}}});
    const CK_SLOT_ID bob =
        agent.add_token("bob", {{p11::KeyAlgorithm::ec_p256, "ec-bob", {.sign = true}}});
    AgentOptions options;
    options.fault_token = true;
    options.more_modules = {SoftHsm::module_path()};
    options.before_start = [bob](faulttoken::FaultControl& fault) { fault.set_absent(bob); };
    options.extra_config = std::string("module_process = \"helper\"\nmodule_helper = \"") +
                           ATTACHE_MODULE_HELPER_PATH + "\"\n";
    agent.start(options);
    agent.unlock("pkcs11:token=bob");
    const std::string bob_key = agent.key("ec-bob").id;
    auto sign_bob = [&] {
        auto c = agent.client();
        auto r =
            c.call(protocol::SignRequest{bob_key, protocol::SignScheme::ecdsa, p11::Hash::sha256,
                                         false, 0, true, to_bytes("the other module")});
        return r && std::holds_alternative<protocol::SignReply>(*r);
    };
    ASSERT_TRUE(sign_bob()) << agent.log();

    agent.fault().crash(Fn::C_GetSlotList);
    ASSERT_TRUE(eventually([&] { return agent.log().find("(SIGABRT) in ") != std::string::npos; },
                           std::chrono::seconds(20)))
        << agent.log();
    EXPECT_NE(agent.log().find("C_GetSlotList"), std::string::npos) << agent.log();
    EXPECT_TRUE(sign_bob()) << agent.log();
    agent.fault().clear_rules();
    EXPECT_TRUE(sign_bob()) << agent.log();
    ASSERT_TRUE(agent.running());
}

}  // namespace
}  // namespace attache::testing
