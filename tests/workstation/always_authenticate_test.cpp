// PIN-per-use keys (CKA_ALWAYS_AUTHENTICATE) on SoftHSM2, which enforces the attribute: every
// signature or decryption needs C_Login(CKU_CONTEXT_SPECIFIC) after its Init call. The agent
// asks the PIN for that one operation through pinentry (the scripted test pinentry), never
// keeps it. A cancelled or missing context PIN fails that operation only (the token stays
// unlocked); a wrong one also locks the token (a PIV card's login is gone after it).

#include <gtest/gtest.h>

#include "cli/exit_codes.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

class AlwaysAuthenticateTest : public ::testing::Test {
  protected:
    void SetUp() override {
        agent_.add_token("alice",
                         {{p11::KeyAlgorithm::ec_p256, "per-use", {.sign = true}, true},
                          {p11::KeyAlgorithm::rsa2048, "per-use-decrypt", {.decrypt = true}, true},
                          {p11::KeyAlgorithm::ec_p256, "ordinary", {.sign = true}}});
    }
    void start(bool with_pinentry = true) {
        AgentOptions o;
        if (with_pinentry)
            o.pinentry = TestPinentry::program();
        agent_.start(o);
        agent_.unlock();
        key_ = agent_.key("per-use").id;
    }
    bool unlocked() { return token_status(agent_, "alice").unlocked; }

    TestPinentry pinentry_;
    AgentFixture agent_;
    std::string key_;
};

TEST_F(AlwaysAuthenticateTest, EverySignatureAsksItsOwnPin) {
    start();
    pinentry_.answer({"pin 123456", "pin 123456"});
    for (int i = 1; i <= 2; ++i) {
        auto r = sign_with(agent_, key_);
        ASSERT_TRUE(std::holds_alternative<protocol::SignReply>(r))
            << (error_of(r) ? error_of(r)->message : "") << agent_.log();
        EXPECT_EQ(pinentry_.prompts(), i) << "the PIN is asked again: never cached";
    }
    const std::string shown = pinentry_.shown();
    EXPECT_NE(shown.find("for a signature with key 'per-use'"), std::string::npos) << shown;
    // An ordinary key of the same token needs no prompt.
    EXPECT_TRUE(
        std::holds_alternative<protocol::SignReply>(sign_with(agent_, agent_.key("ordinary").id)));
    EXPECT_EQ(pinentry_.prompts(), 2);
    EXPECT_TRUE(unlocked());
}

TEST_F(AlwaysAuthenticateTest, WrongPinLocksTheTokenCancelledPinDoesNot) {
    start();
    pinentry_.answer({"pin 000000", "cancel", "pin 123456"});
    auto wrong = sign_with(agent_, key_);
    ASSERT_NE(error_of(wrong), nullptr);
    EXPECT_EQ(error_of(wrong)->code, protocol::ErrorCode::pin_incorrect)
        << error_of(wrong)->message;
    // Locked: a PIV card forgets its PIN check on a failed VERIFY, so the agent does not
    // trust the login after a wrong PIN for one use, whatever the token.
    EXPECT_FALSE(unlocked());
    EXPECT_EQ(token_status(agent_, "alice").lock_reason, "a wrong PIN for one use of a key");
    agent_.unlock();
    auto cancelled = sign_with(agent_, key_);
    ASSERT_NE(error_of(cancelled), nullptr);
    EXPECT_EQ(error_of(cancelled)->code, protocol::ErrorCode::cancelled)
        << error_of(cancelled)->message;
    EXPECT_TRUE(unlocked());
    // The session that saw the failed login still serves the next operation.
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(sign_with(agent_, key_)))
        << agent_.log();
    EXPECT_TRUE(
        std::holds_alternative<protocol::SignReply>(sign_with(agent_, agent_.key("ordinary").id)));
    EXPECT_EQ(pinentry_.prompts(), 3);
}

TEST_F(AlwaysAuthenticateTest, WithoutPinentryRefusedAndTokenStaysUnlocked) {
    start(/*with_pinentry=*/false);
    auto r = sign_with(agent_, key_);
    ASSERT_NE(error_of(r), nullptr);
    EXPECT_NE(error_of(r)->message.find("needs its PIN for every use"), std::string::npos)
        << error_of(r)->message;
    EXPECT_TRUE(unlocked());
    EXPECT_TRUE(
        std::holds_alternative<protocol::SignReply>(sign_with(agent_, agent_.key("ordinary").id)));
}

TEST_F(AlwaysAuthenticateTest, DecryptionAsksThePinToo) {
    start();
    const std::string id = agent_.key("per-use-decrypt").id;
    auto pub = agent_.cli({"pubkey", "--key", id});
    ASSERT_EQ(pub.exit_code, 0) << describe(pub);
    write_file(agent_.dir() / "pub.pem", pub.out);
    write_file(agent_.dir() / "plain", "per-use secret");
    auto e = run_command({"openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey",
                          (agent_.dir() / "pub.pem").string(), "-pkeyopt", "rsa_padding_mode:oaep",
                          "-in", (agent_.dir() / "plain").string(), "-out",
                          (agent_.dir() / "enc").string()});
    ASSERT_EQ(e.exit_code, 0) << describe(e);
    pinentry_.answer({"pin 123456"});
    auto d = agent_.cli({"decrypt", "--key", id, "--in", (agent_.dir() / "enc").string()});
    EXPECT_EQ(d.exit_code, 0) << describe(d) << agent_.log();
    EXPECT_EQ(d.out, "per-use secret");
    EXPECT_EQ(pinentry_.prompts(), 1);
    EXPECT_NE(pinentry_.shown().find("for a decryption with key 'per-use-decrypt'"),
              std::string::npos);
}

}  // namespace
}  // namespace attache::testing
