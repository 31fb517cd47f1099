// The agent's key list follows the card: objects added while it is in are found by a lookup
// that misses, without a new unlock.

#include <gtest/gtest.h>

#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

TEST(KeyList, KeyGeneratedWhileTheCardIsInIsFoundByTheLookupThatMisses) {
    AgentFixture agent;
    const CK_SLOT_ID slot =
        agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "first", {.sign = true}}});
    agent.start();
    agent.unlock();

    // Another program (an enrolment tool) adds a key while the agent serves the card.
    agent.add_keys(slot, {{p11::KeyAlgorithm::ec_p256, "late", {.sign = true}}});
    sleep(3);  // longer than the agent's minimum interval between two re-reads

    protocol::SignRequest s;
    s.key = "pkcs11:object=late;type=private";
    s.scheme = protocol::SignScheme::ecdsa;
    s.data = to_bytes("hello");
    auto reply = agent.client().call(s);
    ASSERT_TRUE(reply) << reply.error().message();
    const auto* error = std::get_if<protocol::ErrorReply>(&*reply);
    EXPECT_EQ(error, nullptr) << error->message << "\n" << agent.log();
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(*reply));
}

}  // namespace
}  // namespace attache::testing
