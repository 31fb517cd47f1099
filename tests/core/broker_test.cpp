// The broker's chain in-process, on a SoftHSM2 token: what each step stops, what reaches the
// audit sink and what the user is asked.

#include <gtest/gtest.h>

#include <chrono>

#include "agent/core/agent_error.h"
#include "tests/core/broker_fixture.h"

namespace attache::testing {
namespace {

using agent::Channel;
using agent::ErrorCode;
using agent::SshFacts;

const std::vector<FixtureKey> kKeys = {
    {p11::KeyAlgorithm::ec_p256, "sign", {.sign = true}},
    {p11::KeyAlgorithm::rsa2048, "decrypt", {.decrypt = true}},
};

ErrorCode code_of(const agent::Performed& p) {
    return agent::error_code_of(p.result.error());
}

TEST(Broker, SignsThroughTheChainAndAuditsWhoAsked) {
    BrokerFixture f;
    f.start(kKeys);
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    auto p = f.sign(f.key_id("sign"), f.context());
    ASSERT_TRUE(p.result) << p.result.error().message();
    EXPECT_EQ(std::get<agent::KeyResult>(*p.result).bytes.size(), 64u);
    const auto r = f.audit().last();
    EXPECT_EQ(r.operation, agent::OperationKind::sign);
    EXPECT_EQ(r.subject, f.key_id("sign"));
    EXPECT_EQ(r.result, "ok");
    EXPECT_EQ(r.client.exe, "/usr/bin/test-client");
    EXPECT_TRUE(r.step.empty());
}

TEST(Broker, AnUnknownKeyStopsAtResolveAndIsAuditedAsTheClientNamedIt) {
    BrokerFixture f;
    f.start(kKeys);
    auto p = f.sign("no-such-key", f.context());
    ASSERT_FALSE(p.result);
    EXPECT_EQ(code_of(p), ErrorCode::unknown_key);
    const auto r = f.audit().last();
    EXPECT_EQ(r.subject, "no-such-key");
    EXPECT_EQ(r.step, "resolve-key");
    EXPECT_EQ(r.result, "unknown-key");
}

TEST(Broker, AKeysOwnUsageStopsAnOperationItDoesNotAllow) {
    BrokerFixture f;
    f.start(kKeys);
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    agent::DecryptOperation op;
    op.key = f.key_id("sign");
    op.data = Bytes(32, 1);
    auto p = f.broker().perform(std::move(op), f.context());
    ASSERT_FALSE(p.result);
    EXPECT_EQ(code_of(p), ErrorCode::refused_by_policy);
    EXPECT_EQ(f.audit().last().step, "key-policy");
}

TEST(Broker, ALockedTokenIsUnlockedThroughThePinDialogNamingTheCheckedRequester) {
    BrokerFixture f;
    f.start(kKeys);
    f.prompt().answer_pin(SoftHsm::kUserPin);
    auto ctx = f.context();
    ctx.client.parents = {{4200, "/usr/bin/bash"}};
    ctx.client.session = agent::SessionKind::remote;
    auto p = f.sign(f.key_id("sign"), ctx);
    ASSERT_TRUE(p.result) << p.result.error().message();
    ASSERT_EQ(f.prompt().pin_requests.size(), 1u);
    const auto& asked = f.prompt().pin_requests[0];
    EXPECT_NE(asked.requester.find("/usr/bin/test-client (pid "), std::string::npos)
        << asked.requester;
    EXPECT_NE(asked.requester.find("started by /usr/bin/bash (pid 4200)"), std::string::npos)
        << asked.requester;
    EXPECT_TRUE(asked.remote_session);
    EXPECT_EQ(asked.token_label, "alice");
}

TEST(Broker, WithoutADialogALockedTokenRefusesAndNoPinIsTried) {
    BrokerFixture f;
    f.start(kKeys, nullptr, /*with_prompt=*/false);
    auto p = f.sign(f.key_id("sign"), f.context());
    ASSERT_FALSE(p.result);
    EXPECT_EQ(code_of(p), ErrorCode::token_locked);
    EXPECT_EQ(f.audit().last().step, "token");
}

// Managed mode's holders, serving every card and key, with a card-auth challenge (the real one
// is agent/managed/card_auth_challenge.cpp, tested on the card stack) that passes or fails.
class ChallengedHolders : public agent::CardHolders {
  public:
    explicit ChallengedHolders(bool card_answers) : card_answers_(card_answers) {}
    agent::CardVerdict check_card(const agent::Token&, const std::string&) override {
        return {true, {}, false};
    }
    bool lists_key(const agent::Token&, const agent::KeyRecord&) override { return true; }
    Status check_before_pin(agent::Token& token) override {
        ++challenges;
        if (card_answers_)
            return ok();
        return Error("card-auth challenge failed: the card " + token.display_name() +
                     " is not the enrolled one");
    }
    int challenges = 0;

  private:
    bool card_answers_;
};

TEST(Broker, ACardThatFailsTheChallengeIsNeitherAskedNorSentAPin) {
    BrokerFixture f;
    auto holders = std::make_shared<ChallengedHolders>(false);
    f.holders = holders;
    f.start(kKeys);
    f.prompt().answer_pin(SoftHsm::kUserPin);
    // First use of a key on the locked card: the PIN dialog is not opened.
    auto p = f.sign(f.key_id("sign"), f.context());
    ASSERT_FALSE(p.result);
    EXPECT_EQ(code_of(p), ErrorCode::refused_by_policy);
    EXPECT_EQ(f.audit().last().step, "card-auth");
    EXPECT_NE(f.audit().last().reason.find("card-auth challenge failed"), std::string::npos);
    EXPECT_TRUE(f.prompt().pin_requests.empty());
    // An unlock with the PIN in the request: refused before the token sees it.
    auto u = f.unlock(SoftHsm::kUserPin);
    ASSERT_FALSE(u.result);
    EXPECT_EQ(code_of(u), ErrorCode::refused_by_policy);
    EXPECT_EQ(f.audit().last().step, "card-auth");
    EXPECT_FALSE(f.tokens().tokens().front()->unlocked());
    EXPECT_EQ(holders->challenges, 2);
}

TEST(Broker, ACardThatAnswersIsUnlockedAndNotChallengedWhileUnlocked) {
    BrokerFixture f;
    auto holders = std::make_shared<ChallengedHolders>(true);
    f.holders = holders;
    f.start(kKeys);
    auto u = f.unlock(SoftHsm::kUserPin);
    ASSERT_TRUE(u.result) << u.result.error().message();
    EXPECT_EQ(holders->challenges, 1);
    auto p = f.sign(f.key_id("sign"), f.context());
    ASSERT_TRUE(p.result) << p.result.error().message();
    EXPECT_EQ(holders->challenges, 1);
}

TEST(Broker, SshSocketSignsOnlySshPayloads) {
    BrokerFixture f;
    f.start(kKeys);
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    const std::string key = f.key_id("sign");
    auto ctx = f.context(Channel::ssh);

    ctx.ssh.payload = SshFacts::Payload::other;  // an X.509 TBS, a document ...
    auto other = f.sign(key, ctx);
    ASSERT_FALSE(other.result);
    EXPECT_EQ(code_of(other), ErrorCode::refused_by_policy);
    EXPECT_EQ(f.audit().last().step, "channel");
    EXPECT_EQ(f.audit().last().channel, Channel::ssh);

    ctx.ssh.payload = SshFacts::Payload::userauth;
    EXPECT_TRUE(f.sign(key, ctx).result);

    ctx.ssh.payload = SshFacts::Payload::sshsig;
    ctx.ssh.sshsig_namespace = "git";
    EXPECT_TRUE(f.sign(key, ctx).result);
    ctx.ssh.sshsig_namespace = "evil";
    auto evil = f.sign(key, ctx);
    ASSERT_FALSE(evil.result);
    EXPECT_EQ(f.audit().last().sshsig_namespace, "evil");

    ctx.ssh.payload = SshFacts::Payload::userauth;
    ctx.ssh.bound = true;
    ctx.ssh.session_id_matches = false;
    EXPECT_FALSE(f.sign(key, ctx).result);
    ctx.ssh.session_id_matches = true;
    EXPECT_TRUE(f.sign(key, ctx).result);
    ctx.ssh.bind_failed = true;
    EXPECT_FALSE(f.sign(key, ctx).result);
}

TEST(Broker, WrongPinsBackOffOneThenTwoSeconds) {
    BrokerFixture f;
    f.start(kKeys);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {
        auto p = f.unlock("000000");
        ASSERT_FALSE(p.result);
        EXPECT_EQ(code_of(p), ErrorCode::pin_incorrect) << p.result.error().message();
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    // The second attempt waits 1 s after the first, the third 2 s after the second.
    EXPECT_GE(elapsed, std::chrono::milliseconds(3000));
    // A right PIN (after the 4 s the third earned) ends the series.
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    auto locked = f.broker().perform(agent::LockOperation{}, f.context());
    ASSERT_TRUE(locked.result);
    const auto before = std::chrono::steady_clock::now();
    EXPECT_FALSE(f.unlock("000000").result);
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(900));
}

TEST(Broker, UnlockAndLockAreAuditedOnTheToken) {
    BrokerFixture f;
    f.start(kKeys);
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    auto r = f.audit().last();
    EXPECT_EQ(r.operation, agent::OperationKind::unlock);
    EXPECT_TRUE(r.on_token);
    EXPECT_EQ(r.result, "ok");
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    EXPECT_EQ(f.audit().last().result, "already-unlocked");
    auto locked = f.broker().perform(agent::LockOperation{}, f.context());
    ASSERT_TRUE(locked.result);
    EXPECT_EQ(std::get<agent::LockResult>(*locked.result).locked, 1u);
    EXPECT_EQ(f.audit().last().operation, agent::OperationKind::lock);
}

std::shared_ptr<const agent::Policy> policy_of(const std::string& text) {
    auto p = agent::Policy::parse(text, "test policy");
    EXPECT_TRUE(p) << p.error().message();
    return std::make_shared<const agent::Policy>(p ? std::move(*p)
                                                   : agent::Policy::builtin_default());
}

const char* kConfirmSigns = R"(
[[rule]]
name = "token state"
operation = ["unlock", "lock", "list"]
action = "allow"
[[rule]]
name = "confirm signatures"
operation = ["sign"]
action = "confirm"
remember = 60
[[rule]]
name = "no decryption for this client"
exe = ["/usr/bin/test-client"]
operation = ["decrypt"]
action = "deny"
)";

TEST(BrokerPolicy, AConfirmRuleAsksWithTheCheckedFactsAndTheUserDecides) {
    BrokerFixture f;
    f.start(kKeys, policy_of(kConfirmSigns));
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    f.prompt().answer_confirm(agent::ConfirmAnswer::denied);
    auto denied = f.sign(f.key_id("sign"), f.context());
    ASSERT_FALSE(denied.result);
    EXPECT_EQ(code_of(denied), ErrorCode::cancelled);
    EXPECT_EQ(f.audit().last().confirmation, "denied");
    EXPECT_EQ(f.audit().last().step, "confirm");
    EXPECT_EQ(f.audit().last().rule, "test policy rule 2 'confirm signatures'");
    ASSERT_EQ(f.prompt().confirm_requests.size(), 1u);
    const auto& shown = f.prompt().confirm_requests[0].description;
    EXPECT_NE(shown.find("Program: /usr/bin/test-client (pid "), std::string::npos) << shown;
    EXPECT_NE(shown.find("Key: 'sign' on the card 'alice'"), std::string::npos) << shown;
    EXPECT_NE(shown.find("Session: your local session (3)"), std::string::npos) << shown;

    f.prompt().answer_confirm(agent::ConfirmAnswer::timed_out);
    auto late = f.sign(f.key_id("sign"), f.context());
    ASSERT_FALSE(late.result);
    EXPECT_EQ(f.audit().last().confirmation, "timed-out");

    f.prompt().answer_confirm(agent::ConfirmAnswer::allowed);
    ASSERT_TRUE(f.sign(f.key_id("sign"), f.context()).result);
    EXPECT_EQ(f.audit().last().confirmation, "confirmed");
    // Remembered for 60 s for this executable, session and key: no second dialog ...
    ASSERT_TRUE(f.sign(f.key_id("sign"), f.context()).result);
    EXPECT_EQ(f.audit().last().confirmation, "remembered");
    EXPECT_EQ(f.prompt().confirm_requests.size(), 3u);
    // ... but another program asks again,
    auto other = f.context();
    other.client.exe = "/usr/bin/other";
    EXPECT_FALSE(f.sign(f.key_id("sign"), other).result);  // the script has no answer: denied
    EXPECT_EQ(f.prompt().confirm_requests.size(), 4u);
    // and after a lock everything asks again.
    ASSERT_TRUE(f.broker().perform(agent::LockOperation{}, f.context()).result);
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    f.prompt().answer_confirm(agent::ConfirmAnswer::allowed);
    ASSERT_TRUE(f.sign(f.key_id("sign"), f.context()).result);
    EXPECT_EQ(f.prompt().confirm_requests.size(), 5u);
}

TEST(BrokerPolicy, ADenyRuleStopsAtTheClientPolicyWithoutAsking) {
    BrokerFixture f;
    f.start(kKeys, policy_of(kConfirmSigns));
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    agent::DecryptOperation op;
    op.key = f.key_id("decrypt");
    op.data = Bytes(256, 1);
    auto p = f.broker().perform(std::move(op), f.context());
    ASSERT_FALSE(p.result);
    EXPECT_EQ(code_of(p), ErrorCode::refused_by_policy);
    EXPECT_NE(p.result.error().message().find("'no decryption for this client'"),
              std::string::npos);
    EXPECT_EQ(f.audit().last().step, "client-policy");
    EXPECT_TRUE(f.prompt().confirm_requests.empty());
}

TEST(BrokerPolicy, NoDialogMeansAConfirmRuleRefuses) {
    BrokerFixture f;
    f.start(kKeys, policy_of(kConfirmSigns), /*with_prompt=*/false);
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    auto p = f.sign(f.key_id("sign"), f.context());
    ASSERT_FALSE(p.result);
    EXPECT_EQ(code_of(p), ErrorCode::refused_by_policy);
    EXPECT_EQ(f.audit().last().confirmation, "unavailable");
}

TEST(BrokerPolicy, AProcessThatExitedIsNotAskedFor) {
    BrokerFixture f;
    f.start(kKeys, policy_of(kConfirmSigns));
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    auto gone = f.context();
    gone.client.start_time += 1;  // the pid now names another process
    f.prompt().answer_confirm(agent::ConfirmAnswer::allowed);
    auto p = f.sign(f.key_id("sign"), gone);
    ASSERT_FALSE(p.result);
    EXPECT_EQ(f.audit().last().step, "session");
    EXPECT_TRUE(f.prompt().confirm_requests.empty());
}

TEST(BrokerPolicy, TheDefaultPolicyRefusesRemoteSessionsAndConfirmsUnknownPrograms) {
    BrokerFixture f;
    f.start(kKeys, std::make_shared<const agent::Policy>(agent::Policy::builtin_default()));
    auto remote = f.context();
    remote.client.session = agent::SessionKind::remote;
    auto unlock =
        f.broker().perform(agent::UnlockOperation{"", secret_of(SoftHsm::kUserPin)}, remote);
    ASSERT_FALSE(unlock.result);
    EXPECT_NE(unlock.result.error().message().find("remote login session"), std::string::npos);
    ASSERT_TRUE(f.unlock(SoftHsm::kUserPin).result);
    EXPECT_FALSE(f.sign(f.key_id("sign"), remote).result);
    EXPECT_TRUE(f.prompt().confirm_requests.empty());
    // A local program not on the list: confirmed in the dialog.
    f.prompt().answer_confirm(agent::ConfirmAnswer::allowed);
    ASSERT_TRUE(f.sign(f.key_id("sign"), f.context()).result);
    EXPECT_EQ(f.prompt().confirm_requests.size(), 1u);
    // Thunderbird is on it.
    auto mail = f.context();
    mail.client.exe = "/usr/lib/thunderbird/thunderbird";
    ASSERT_TRUE(f.sign(f.key_id("sign"), mail).result);
    EXPECT_EQ(f.prompt().confirm_requests.size(), 1u);
}

}  // namespace
}  // namespace attache::testing
