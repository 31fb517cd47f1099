// PIN entry through pinentry: the agent asks with the test pinentry when a request needs a
// locked token. Counts of C_Login come from the fault-injecting token.

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "agent/pinentry/pinentry.h"
#include "cli/exit_codes.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

using faulttoken::Fn;
using protocol::ErrorCode;

class PinentryTest : public ::testing::Test {
  protected:
    void SetUp() override {
        slot_ =
            agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-sign", {.sign = true}}});
    }
    void start(AgentOptions options = {}) {
        options.fault_token = true;
        options.pinentry = TestPinentry::program();
        agent_.start(options);
        agent_.fault().reset_counts();
        key_ = agent_.key("ec-sign").id;
    }
    // Waits until the agent's poll has seen flags set through the fault token.
    void wait_for_flags(CK_FLAGS flags) {
        ASSERT_TRUE(
            eventually([&] { return (token_status(agent_, "alice").flags & flags) == flags; }));
    }
    uint64_t logins() { return agent_.fault().count(Fn::C_Login); }

    TestPinentry pinentry_;
    AgentFixture agent_;
    CK_SLOT_ID slot_ = 0;
    std::string key_;
};

TEST_F(PinentryTest, RightPinUnlocksAndTheRequestProceeds) {
    start();
    pinentry_.answer({"pin 123456"});
    auto r = sign_with(agent_, key_);
    ASSERT_TRUE(std::holds_alternative<protocol::SignReply>(r))
        << (error_of(r) ? error_of(r)->message : "") << agent_.log();
    EXPECT_EQ(pinentry_.prompts(), 1);
    EXPECT_EQ(logins(), 1u);
    EXPECT_TRUE(token_status(agent_, "alice").unlocked);

    const std::string shown = pinentry_.shown();
    EXPECT_NE(shown.find("SETDESC "), std::string::npos) << shown;
    EXPECT_NE(shown.find("'alice' (serial "), std::string::npos) << shown;
    EXPECT_NE(shown.find("GETPIN"), std::string::npos) << shown;
    // The prompt names who asked.
    EXPECT_NE(shown.find("Requested by "), std::string::npos) << shown;
    // No cache: no key info, never the external password cache.
    EXPECT_EQ(shown.find("SETKEYINFO"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("allow-external-password-cache"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("CONFIRM"), std::string::npos) << "no final try, no confirmation";
    // The PIN never reaches the log.
    EXPECT_EQ(agent_.log().find("123456"), std::string::npos);

    // Unlocked now: the next request needs no prompt.
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(sign_with(agent_, key_)));
    EXPECT_EQ(pinentry_.prompts(), 1);
}

TEST_F(PinentryTest, WrongPinFailsOnceAndTheNextPromptWarns) {
    start({.before_start = [](faulttoken::FaultControl& f) { f.set_max_pin_tries(3); }});
    pinentry_.answer({"pin 000000", "pin 123456"});
    auto wrong = sign_with(agent_, key_);
    ASSERT_NE(error_of(wrong), nullptr);
    EXPECT_EQ(error_of(wrong)->code, ErrorCode::pin_incorrect) << error_of(wrong)->message;
    EXPECT_TRUE(error_of(wrong)->token_flags & CKF_USER_PIN_COUNT_LOW);
    EXPECT_EQ(logins(), 1u) << "a wrong PIN is never retried";
    EXPECT_EQ(pinentry_.prompts(), 1);

    auto right = sign_with(agent_, key_);
    ASSERT_TRUE(std::holds_alternative<protocol::SignReply>(right))
        << (error_of(right) ? error_of(right)->message : "");
    EXPECT_EQ(logins(), 2u);
    const std::string shown = pinentry_.shown();
    const std::string second = shown.substr(shown.find("=== prompt 2"));
    EXPECT_NE(second.find("SETERROR The last PIN entered was wrong: few attempts left"),
              std::string::npos)
        << second;
    EXPECT_NE(second.find("few attempts left"), std::string::npos) << second;
    EXPECT_EQ(shown.substr(0, shown.find("=== prompt 2")).find("SETERROR"), std::string::npos);
}

TEST_F(PinentryTest, FinalTryMustBeConfirmedInTheDialog) {
    start({.before_start = [](faulttoken::FaultControl& f) {
        f.set_pin_flags(CKF_USER_PIN_FINAL_TRY);
    }});
    pinentry_.answer({"decline", "pin 123456"});
    auto declined = sign_with(agent_, key_);
    ASSERT_NE(error_of(declined), nullptr);
    EXPECT_EQ(error_of(declined)->code, ErrorCode::cancelled) << error_of(declined)->message;
    EXPECT_EQ(logins(), 0u) << "declining the last try must not touch the card";
    std::string shown = pinentry_.shown();
    EXPECT_NE(shown.find("CONFIRM"), std::string::npos) << shown;
    EXPECT_NE(shown.find("LAST attempt \u2014 a wrong PIN blocks the card"), std::string::npos)
        << shown;
    EXPECT_EQ(shown.find("GETPIN"), std::string::npos) << "no PIN asked before the confirmation";

    auto confirmed = sign_with(agent_, key_);
    ASSERT_TRUE(std::holds_alternative<protocol::SignReply>(confirmed))
        << (error_of(confirmed) ? error_of(confirmed)->message : "");
    EXPECT_EQ(logins(), 1u);
    shown = pinentry_.shown();
    const std::string second = shown.substr(shown.find("=== prompt 2"));
    EXPECT_LT(second.find("CONFIRM"), second.find("GETPIN")) << second;
}

TEST_F(PinentryTest, CancelIsACleanFailure) {
    start();
    pinentry_.answer({"cancel"});
    auto r = sign_with(agent_, key_);
    ASSERT_NE(error_of(r), nullptr);
    EXPECT_EQ(error_of(r)->code, ErrorCode::cancelled) << error_of(r)->message;
    EXPECT_EQ(logins(), 0u);
    EXPECT_FALSE(token_status(agent_, "alice").unlocked);
    // The CLI reports it with its exit code, and the agent goes on serving.
    pinentry_.answer({"cancel"});
    auto cli = agent_.cli({"sign", "--key", key_}, "data");
    EXPECT_NE(cli.exit_code, 0) << describe(cli);
    EXPECT_NE(cli.err.find("cancelled"), std::string::npos) << describe(cli);
    EXPECT_EQ(agent_.cli({"status"}).exit_code, 0);
}

TEST_F(PinentryTest, BlockedPinGetsNoPromptAndNoLogin) {
    start({.before_start = [](faulttoken::FaultControl& f) {
        f.set_pin_flags(CKF_USER_PIN_LOCKED);
    }});
    pinentry_.answer({"pin 123456"});
    auto r = sign_with(agent_, key_);
    ASSERT_NE(error_of(r), nullptr);
    EXPECT_EQ(error_of(r)->code, ErrorCode::pin_locked) << error_of(r)->message;
    EXPECT_NE(error_of(r)->message.find("attache pin unblock"), std::string::npos);
    EXPECT_EQ(pinentry_.prompts(), 0);
    EXPECT_EQ(logins(), 0u);
}

TEST_F(PinentryTest, TenConcurrentRequestsShareOnePromptAndOneLogin) {
    const CK_SLOT_ID bob =
        agent_.add_token("bob", {{p11::KeyAlgorithm::ec_p256, "bob-sign", {.sign = true}}});
    (void)bob;
    start();
    agent_.unlock("pkcs11:token=bob");
    const std::string bob_key = agent_.key("bob-sign").id;
    agent_.fault().reset_counts();

    pinentry_.answer({"delay=2 pin 123456"});
    std::atomic<int> signed_ok{0};
    std::atomic<int> alice_done{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 10; ++i) {
        clients.emplace_back([&] {
            auto r = sign_with(agent_, key_);
            if (std::holds_alternative<protocol::SignReply>(r))
                ++signed_ok;
            ++alice_done;
        });
    }
    // While alice's prompt is open, bob's token serves.
    ASSERT_TRUE(eventually([&] { return pinentry_.prompts() == 1; }));
    auto bob_sig = sign_with(agent_, bob_key);
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(bob_sig));
    EXPECT_EQ(alice_done.load(), 0) << "bob's request must not wait for alice's prompt";
    for (auto& t : clients)
        t.join();
    EXPECT_EQ(signed_ok.load(), 10);
    EXPECT_EQ(pinentry_.prompts(), 1);
    EXPECT_EQ(logins(), 1u);
}

TEST_F(PinentryTest, UnlockWithoutAPinAsksThroughPinentry) {
    start();
    pinentry_.answer({"pin 123456"});
    auto r = agent_.cli({"unlock", "--pin-source", "pinentry"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(pinentry_.prompts(), 1);
    EXPECT_EQ(logins(), 1u);
    EXPECT_TRUE(token_status(agent_, "alice").unlocked);
}

TEST_F(PinentryTest, SshSignatureOnALockedTokenPrompts) {
    start();
    pinentry_.answer({"pin 123456"});
    const std::string ssh_sock = (agent_.dir() / "run/ssh.sock").string();
    auto listed = run_command({"ssh-add", "-L"}, {}, {{"SSH_AUTH_SOCK", ssh_sock}});
    ASSERT_EQ(listed.exit_code, 0) << describe(listed);
    write_file(agent_.dir() / "key.pub", listed.out);
    write_file(agent_.dir() / "message", "signed through ssh");
    auto sig = run_command({"ssh-keygen", "-Y", "sign", "-f", (agent_.dir() / "key.pub").string(),
                            "-n", "file", (agent_.dir() / "message").string()},
                           {}, {{"SSH_AUTH_SOCK", ssh_sock}});
    EXPECT_EQ(sig.exit_code, 0) << describe(sig) << agent_.log();
    EXPECT_EQ(pinentry_.prompts(), 1);
    EXPECT_EQ(logins(), 1u);
}

TEST_F(PinentryTest, LockWhilePromptingClosesThePromptWithoutLogin) {
    start();
    pinentry_.answer({"hang"});
    std::optional<protocol::Reply> result;
    std::thread client([&] { result = sign_with(agent_, key_); });
    ASSERT_TRUE(eventually([&] { return pinentry_.prompts() == 1; }));
    EXPECT_EQ(agent_.cli({"lock"}).exit_code, 0);
    client.join();  // the lock ended the prompt: no hang
    ASSERT_TRUE(result);
    ASSERT_NE(error_of(*result), nullptr);
    EXPECT_EQ(error_of(*result)->code, ErrorCode::cancelled) << error_of(*result)->message;
    EXPECT_EQ(logins(), 0u);
}

TEST_F(PinentryTest, RemovalWhilePromptingFailsTheWaitingRequests) {
    start();
    pinentry_.answer({"hang"});
    std::vector<protocol::Reply> results(3);
    std::vector<std::thread> clients;
    for (auto& r : results)
        clients.emplace_back([&] { r = sign_with(agent_, key_); });
    ASSERT_TRUE(eventually([&] { return pinentry_.prompts() == 1; }));
    agent_.fault().set_absent(slot_);
    for (auto& t : clients)
        t.join();
    for (const auto& r : results) {
        ASSERT_NE(error_of(r), nullptr);
        // Waiting for the prompt: "card removed"; not yet that far: the key is gone.
        EXPECT_TRUE(error_of(r)->code == ErrorCode::token_absent ||
                    error_of(r)->code == ErrorCode::unknown_key)
            << error_of(r)->message;
    }
    EXPECT_EQ(error_of(results[0])->code == ErrorCode::token_absent ||
                  error_of(results[1])->code == ErrorCode::token_absent ||
                  error_of(results[2])->code == ErrorCode::token_absent,
              true)
        << "the request that opened the prompt fails as 'card removed'";
    EXPECT_EQ(pinentry_.prompts(), 1);
    EXPECT_EQ(logins(), 0u);
}

TEST_F(PinentryTest, SwappedCardWithAnotherSerialIsNotUnlockedAutomatically) {
    start();
    agent_.unlock();
    const std::string old_serial = token_status(agent_, "alice").serial;
    agent_.fault().reset_counts();
    agent_.fault().set_serial(slot_, "SWAPPED0001");
    ASSERT_TRUE(eventually([&] { return token_status(agent_, "alice").serial == "SWAPPED0001"; }));
    auto now = token_status(agent_, "alice");
    EXPECT_FALSE(now.unlocked) << "another card starts locked";
    EXPECT_EQ(logins(), 0u) << "no automatic C_Login for the new card";

    // A request now asks for the new card's PIN, naming it; cancelled, nothing logs in.
    pinentry_.answer({"cancel"});
    auto r = sign_with(agent_, key_);
    ASSERT_NE(error_of(r), nullptr);
    EXPECT_EQ(logins(), 0u);
    EXPECT_NE(pinentry_.shown().find("serial SWAPPED0001"), std::string::npos) << pinentry_.shown();
    EXPECT_EQ(pinentry_.shown().find("serial " + old_serial), std::string::npos);
}

TEST_F(PinentryTest, PromptOnUseOffLeavesLockedTokensLocked) {
    start({.extra_config = "prompt_on_use = false"});
    pinentry_.answer({"pin 123456"});
    auto r = sign_with(agent_, key_);
    ASSERT_NE(error_of(r), nullptr);
    EXPECT_EQ(error_of(r)->code, ErrorCode::token_locked);
    EXPECT_EQ(pinentry_.prompts(), 0);
}

TEST_F(PinentryTest, MissingPinentryProgramFailsAsLocked) {
    agent_.start({.fault_token = true, .pinentry = "/nonexistent/pinentry"});
    auto r = sign_with(agent_, agent_.key("ec-sign").id);
    ASSERT_NE(error_of(r), nullptr);
    EXPECT_EQ(error_of(r)->code, ErrorCode::token_locked) << error_of(r)->message;
    EXPECT_NE(error_of(r)->message.find("attache unlock"), std::string::npos);
}

// On SoftHSM2 directly (the fault token itself does not free everything at C_Finalize): after
// prompts, cancelled and answered, the agent exits cleanly, and under the sanitizers with
// nothing leaked (libassuan's contexts, the prompt's threads).
TEST(PinentryExit, AgentExitsCleanlyAfterPrompts) {
    TestPinentry pinentry;
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "k", {.sign = true}}});
    agent.start({.pinentry = TestPinentry::program()});
    pinentry.answer({"cancel", "pin 123456"});
    const std::string key = agent.key("k").id;
    auto cancelled = sign_with(agent, key);
    ASSERT_NE(error_of(cancelled), nullptr);
    EXPECT_EQ(error_of(cancelled)->code, ErrorCode::cancelled);
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(sign_with(agent, key)));
    EXPECT_EQ(pinentry.prompts(), 2);
    EXPECT_EQ(agent.stop(), 0) << agent.log();
}

}  // namespace
}  // namespace attache::testing

namespace attache::testing {
namespace {

using namespace std::chrono_literals;
using protocol::ErrorCode;

// The confirmation dialog (PinentryPrompter::confirm), asked in-process with the test pinentry.
class ConfirmTest : public ::testing::Test {
  protected:
    agent::PinentryPrompter prompter(std::string program = TestPinentry::program(),
                                     std::chrono::seconds timeout = 120s,
                                     std::chrono::seconds grace = 10s) {
        return agent::PinentryPrompter({.program = std::move(program),
                                        .timeout = timeout,
                                        .grace = grace,
                                        .session_environment = {}});
    }
    Result<agent::ConfirmAnswer> confirm(agent::PinentryPrompter& p) {
        return p.confirm(request_, cancel_);
    }
    static int code_of(const Error& e) { return e.code().value_or(-1); }

    TestPinentry pinentry_;
    agent::PromptCancel cancel_;
    agent::ConfirmRequest request_{
        .title = "Allow a signature with your card?",
        .description = "Program: /usr/bin/example (pid 42)\nKey: 'Signature key' 100%\r\nend",
        .ok = "Allow",
        .cancel = "Deny",
    };
};

TEST_F(ConfirmTest, OkAllowsAndTheDialogShowsTheFactsEscaped) {
    auto p = prompter();
    pinentry_.answer({"allow"});
    auto r = confirm(p);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, agent::ConfirmAnswer::allowed);
    const std::string shown = pinentry_.shown();
    EXPECT_NE(shown.find("SETTITLE Allow a signature with your card?\n"), std::string::npos)
        << shown;
    EXPECT_NE(shown.find("SETDESC Program: /usr/bin/example (pid 42)%0AKey: 'Signature key' "
                         "100%25%0D%0Aend\n"),
              std::string::npos)
        << shown;
    EXPECT_NE(shown.find("SETOK Allow\n"), std::string::npos) << shown;
    EXPECT_NE(shown.find("SETCANCEL Deny\n"), std::string::npos) << shown;
    EXPECT_NE(shown.find("SETTIMEOUT 120\n"), std::string::npos) << shown;
    EXPECT_LT(shown.find("SETDESC"), shown.find("CONFIRM")) << shown;
    EXPECT_EQ(shown.find("GETPIN"), std::string::npos) << shown;
    EXPECT_EQ(pinentry_.prompts(), 1);
}

TEST_F(ConfirmTest, CancelDenies) {
    auto p = prompter();
    pinentry_.answer({"deny", "not-confirmed"});
    auto cancelled = confirm(p);
    ASSERT_TRUE(cancelled) << cancelled.error().message();
    EXPECT_EQ(*cancelled, agent::ConfirmAnswer::denied);
    auto not_confirmed = confirm(p);
    ASSERT_TRUE(not_confirmed) << not_confirmed.error().message();
    EXPECT_EQ(*not_confirmed, agent::ConfirmAnswer::denied);
    EXPECT_EQ(pinentry_.prompts(), 2);
}

TEST_F(ConfirmTest, PinentrysOwnTimeoutIsTimedOut) {
    auto p = prompter();
    pinentry_.answer({"timeout"});
    auto r = confirm(p);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, agent::ConfirmAnswer::timed_out);
}

TEST_F(ConfirmTest, TheAgentsDeadlineEndsAHungDialogAsTimedOut) {
    auto p = prompter(TestPinentry::program(), 1s, 0s);
    pinentry_.answer({"hang"});
    auto r = confirm(p);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, agent::ConfirmAnswer::timed_out);
    EXPECT_NE(pinentry_.shown().find("SETTIMEOUT 1\n"), std::string::npos);
}

TEST_F(ConfirmTest, PromptCancelEndsTheDialog) {
    auto p = prompter();
    pinentry_.answer({"hang"});
    std::optional<Result<agent::ConfirmAnswer>> r;
    std::thread asking([&] { r = confirm(p); });
    ASSERT_TRUE(eventually([&] { return pinentry_.shown().find("CONFIRM") != std::string::npos; }));
    cancel_.cancel();
    asking.join();
    ASSERT_TRUE(r);
    ASSERT_FALSE(*r);
    EXPECT_EQ(code_of(r->error()), static_cast<int>(ErrorCode::cancelled)) << r->error().message();

    // Cancelled before it opens: no dialog at all.
    auto before = confirm(p);
    ASSERT_FALSE(before);
    EXPECT_EQ(code_of(before.error()), static_cast<int>(ErrorCode::cancelled));
    EXPECT_EQ(pinentry_.prompts(), 1);
}

TEST_F(ConfirmTest, NoPinentryRefusesTheUse) {
    for (const std::string program : {"/nonexistent/pinentry", "", "/bin/false"}) {
        auto p = prompter(program);
        auto r = confirm(p);
        ASSERT_FALSE(r) << program;
        EXPECT_EQ(code_of(r.error()), static_cast<int>(ErrorCode::refused_by_policy))
            << program << ": " << r.error().message();
        EXPECT_NE(r.error().message().find("needs your confirmation"), std::string::npos)
            << r.error().message();
    }
}

TEST_F(ConfirmTest, OneDialogAtATime) {
    auto p = prompter();
    pinentry_.answer({"delay=1 allow", "deny"});
    std::optional<Result<agent::ConfirmAnswer>> first, second;
    std::thread a([&] { first = confirm(p); });
    ASSERT_TRUE(eventually([&] { return pinentry_.prompts() == 1; }));
    std::thread b([&] { second = confirm(p); });
    a.join();
    b.join();
    ASSERT_TRUE(first && *first && second && *second);
    EXPECT_EQ(**first, agent::ConfirmAnswer::allowed);
    EXPECT_EQ(**second, agent::ConfirmAnswer::denied);
    const std::string shown = pinentry_.shown();
    ASSERT_NE(shown.find("=== end 1"), std::string::npos) << shown;
    EXPECT_LT(shown.find("=== end 1"), shown.find("=== prompt 2")) << shown;
}

}  // namespace
}  // namespace attache::testing
