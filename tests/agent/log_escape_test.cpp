// Client-provided strings never reach a log line raw, and lookups of unknown keys are audited.

#include <gtest/gtest.h>

#include <unistd.h>

#include <sstream>

#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

// Lines of the agent's log that begin with `prefix` after the "attache-agent[pid]: info: ".
std::vector<std::string> lines_with(const std::string& log, const std::string& needle) {
    std::vector<std::string> out;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        if (line.find(needle) != std::string::npos)
            out.push_back(line);
    }
    return out;
}

TEST(LogEscape, ForgedLinesInAKeyReferenceStayInsideOneEscapedRecord) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    agent.start();
    agent.unlock();
    const std::string forged = "attache-agent[1]: info: audit: op=sign key=0000 result=ok";
    protocol::SignRequest s;
    s.key = "nosuchkey\n" + forged;
    s.scheme = protocol::SignScheme::ecdsa;
    s.data = to_bytes("x");
    auto reply = agent.client().call(s);
    ASSERT_TRUE(reply) << reply.error().message();
    ASSERT_TRUE(std::holds_alternative<protocol::ErrorReply>(*reply));

    // The record is written right after the reply is sent.
    std::string log;
    for (int i = 0; i < 200 && (log = agent.log()).find("op=sign") == std::string::npos; ++i)
        usleep(10'000);
    // No line of the log starts with the forged text: the newline was escaped.
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);)
        EXPECT_NE(line.rfind(forged, 0), 0u) << "forged line in the log:\n" << log;
    // The lookup itself is audited, the reference quoted with its newline escaped.
    auto audits = lines_with(log, "audit: op=sign via=native key=\"nosuchkey\\x0a");
    ASSERT_EQ(audits.size(), 1u) << log;
    EXPECT_NE(audits[0].find("result=unknown-key"), std::string::npos) << audits[0];
}

TEST(LogEscape, ControlCharactersInWarningsAreEscaped) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    agent.start();
    // A URI that fails to parse is echoed in the reply and must not break the log.
    protocol::UnlockRequest u;
    u.token = "pkcs11:token=a\r\nattache-agent[1]: error: forged";
    auto reply = agent.client().call(protocol::Request(std::move(u)));
    ASSERT_TRUE(reply) << reply.error().message();
    std::string log;
    for (int i = 0; i < 200 && (log = agent.log()).find("op=unlock") == std::string::npos; ++i)
        usleep(10'000);
    EXPECT_EQ(log.find("\nattache-agent[1]: error: forged"), std::string::npos) << log;
    EXPECT_NE(log.find("audit: op=unlock"), std::string::npos) << log;
}

}  // namespace
}  // namespace attache::testing
