#pragma once

// Helpers for the workstation tests: the test pinentry (tests/workstation/test-pinentry), and
// short ways to ask the agent for a signature or its status.

#include <chrono>
#include <functional>
#include <initializer_list>
#include <string>

#include "tests/agent/agent_fixture.h"
#include "tests/support/eventually.h"

namespace attache::testing {

// The scripted pinentry: answers from a list, records what it was shown. Selected for agents
// started after it (through the environment they inherit).
class TestPinentry {
  public:
    TestPinentry();
    ~TestPinentry();
    TestPinentry(const TestPinentry&) = delete;
    TestPinentry& operator=(const TestPinentry&) = delete;

    static std::string program() { return ATTACHE_TEST_PINENTRY_PATH; }
    // Appends answers for the next prompts ("pin 123456", "cancel", "decline", "hang",
    // optionally prefixed with "delay=SECONDS " and/or "after=FILE ": GETPIN answered once
    // FILE exists, when the program that asked is ready for the answer).
    void answer(std::initializer_list<std::string> answers);
    // Everything pinentry was sent, prompt by prompt.
    std::string shown() const;
    int prompts() const;

  private:
    TempDir dir_{"attache-pinentry"};
};

// Signs "hello" with the key through the native protocol; the reply (or an error reply for a
// failed call).
protocol::Reply sign_with(AgentFixture& agent, const std::string& key_id);
const protocol::ErrorReply* error_of(const protocol::Reply& reply);

// The agent's status of the token with this label (the present one if several).
protocol::TokenStatus token_status(AgentFixture& agent, const std::string& label);

}  // namespace attache::testing
