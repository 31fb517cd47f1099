// attache-agent on the real smartcard stack: pcscd, vpcd, OpenSC 0.23's PIV driver
// (opensc-pkcs11.so) and the project's virtual PIV card. Runs inside `stack.py run` (ctest -L
// smartcard), which gives it a private pcscd; each test inserts its own card in reader 0.
// Results are checked by openssl, OpenSSH and the card's own log, never by the agent.

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <thread>

#include "cli/exit_codes.h"
#include "tests/agent/agent_fixture.h"
#include "tests/smartcard/card_stack.h"

namespace attache::testing {
namespace {

using namespace std::chrono_literals;

// PIV slot -> the label OpenSC 0.23 gives the slot's private key.
constexpr const char* kAuthKey = "PIV AUTH key";    // 9A
constexpr const char* kKeyMgmtKey = "KEY MAN key";  // 9D

class CardAgentTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!CardStack::available())
            GTEST_SKIP() << "needs the smartcard stack: ctest -L smartcard, or "
                            "tests/smartcard/stack.py run -- THIS_BINARY";
        write_file(dir_ / "data", "attache on a virtual PIV card\n");
    }

    // Inserts `card` and starts the agent on OpenSC (through pkcs11-spy.so when `spy`), with
    // the scripted test pinentry when `pinentry` (answers from pinentry_answers()).
    void start(const std::string& card, bool spy = false, bool pinentry = false) {
        stack_.insert(card);
        AgentOptions o;
        o.module = kOpenscModule;
        if (pinentry) {
            std::filesystem::create_directories(dir_ / "pinentry");
            setenv("ATTACHE_TEST_PINENTRY_DIR", (dir_ / "pinentry").c_str(), 1);
            o.pinentry = ATTACHE_TEST_PINENTRY_PATH;
        }
        if (spy) {
            o.module = kSpyModule;
            setenv("PKCS11SPY", kOpenscModule, 1);
            setenv("PKCS11SPY_OUTPUT", spy_log().c_str(), 1);
        }
        agent_.start(o);
        unsetenv("PKCS11SPY");
        unsetenv("PKCS11SPY_OUTPUT");
        ASSERT_TRUE(wait_for_status("locked")) << describe(agent_.cli({"status"}));
    }

    std::string spy_log() const { return (dir_ / "spy.log").string(); }
    void pinentry_answers(const std::string& lines) {
        write_file(dir_ / "pinentry/answers", lines);
    }
    int prompts() const { return count_lines_with(dir_ / "pinentry/shown", "=== prompt"); }

    CommandResult unlock(const std::string& pin, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"unlock", "--pin-source", "env:ATTACHE_TEST_PIN"};
        args.insert(args.end(), extra.begin(), extra.end());
        return agent_.cli(args, {}, {{"ATTACHE_TEST_PIN", pin}});
    }

    // `attache status` until its output has `text` (hotplug reaches the agent in its own time;
    // the bound only ends a broken run).
    bool wait_for_status(const std::string& text) {
        for (int i = 0; i < 200; ++i) {
            if (agent_.cli({"status"}).out.find(text) != std::string::npos)
                return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }

    std::string write_public_key(const std::string& card, const std::string& slot) {
        const auto path = dir_ / ("pub-" + slot + ".pem");
        write_file(path, CardStack::public_key(card, slot));
        return path.string();
    }

    // Signs the data file with the agent's key `label`; verifies with the slot's public key.
    void sign_and_verify(const std::string& card, const std::string& label,
                         const std::string& slot) {
        const std::string sig = (dir_ / ("sig-" + slot)).string();
        auto s = agent_.cli({"sign", "--key", agent_.key(label).id, "--in",
                             (dir_ / "data").string(), "--out", sig});
        ASSERT_EQ(s.exit_code, 0) << describe(s) << agent_.log();
        auto v = run_command({"openssl", "dgst", "-sha256", "-verify", write_public_key(card, slot),
                              "-signature", sig, (dir_ / "data").string()});
        EXPECT_EQ(v.exit_code, 0) << describe(v);
    }

    // After a pcscd restart: once `status` shows the card present and locked, the first unlock
    // works (no retries, each of which could cost a PIN try on a real card) with one VERIFY at
    // the card (`presented`: VERIFYs before the restart), and a signature verifies.
    void unlocks_at_the_first_try(const std::string& card, int presented) {
        ASSERT_TRUE(wait_for_status("locked since")) << describe(agent_.cli({"status"}));
        auto unlocked = unlock(kCardPin);
        ASSERT_EQ(unlocked.exit_code, 0) << describe(unlocked) << agent_.log();
        EXPECT_EQ(stack_.pins_presented(), presented + 1) << stack_.card_log();
        sign_and_verify(card, kAuthKey, "9A");
    }

    TempDir dir_{"attache-card-test"};
    CardStack stack_;  // destroyed after the agent: the agent never outlives its card here
    AgentFixture agent_;
};

TEST_F(CardAgentTest, StatusUnlockSignVerify) {
    const auto card = CardStack::create(dir_, "card", {"--provisioned", "--serial", "a77a0001"});
    start(card);
    auto status = agent_.cli({"status"});
    EXPECT_NE(status.out.find("a77a0001"), std::string::npos) << describe(status);
    auto u = unlock(kCardPin);
    ASSERT_EQ(u.exit_code, 0) << describe(u) << agent_.log();
    EXPECT_NE(agent_.cli({"status"}).out.find("unlocked"), std::string::npos);
    auto keys = agent_.cli({"keys"});
    for (const char* label : {kAuthKey, "SIGN key", kKeyMgmtKey, "CARD AUTH key"})
        EXPECT_NE(keys.out.find(label), std::string::npos) << label << "\n" << describe(keys);
    sign_and_verify(card, kAuthKey, "9A");         // RSA-2048, PIN verified once
    sign_and_verify(card, "CARD AUTH key", "9E");  // P-256, no PIN on the card
}

TEST_F(CardAgentTest, DigitalSignatureKey9CAsksThePinForEachSignature) {
    const auto card = CardStack::create(dir_, "card", {"--provisioned"});
    start(card, /*spy=*/false, /*pinentry=*/true);
    ASSERT_EQ(unlock(kCardPin).exit_code, 0);
    const int verifies = stack_.pins_presented();
    pinentry_answers("pin 123456\npin 123456\npin 999999\n");
    sign_and_verify(card, "SIGN key", "9C");
    sign_and_verify(card, "SIGN key", "9C");
    EXPECT_EQ(prompts(), 2) << "one prompt per signature, the PIN never cached";
    EXPECT_EQ(stack_.pins_presented(), verifies + 2);
    EXPECT_NE(read_file(dir_ / "pinentry/shown").find("for a signature with key 'SIGN key'"),
              std::string::npos);
    // A wrong PIN for one signature fails it (the card counts it), and the card forgot its
    // PIN check (a failed VERIFY resets it): the agent locks the token and says why.
    auto wrong =
        agent_.cli({"sign", "--key", agent_.key("SIGN key").id, "--in", (dir_ / "data").string()});
    EXPECT_EQ(wrong.exit_code, cli::kWrongPin) << describe(wrong);
    EXPECT_NE(agent_.cli({"status"}).out.find("a wrong PIN for one use"), std::string::npos)
        << describe(agent_.cli({"status"}));
    ASSERT_EQ(unlock(kCardPin).exit_code, 0);
    sign_and_verify(card, kAuthKey, "9A");  // no prompt: 9A needs the PIN once
    EXPECT_EQ(prompts(), 3);
}

TEST_F(CardAgentTest, RsaDecryptOn9D) {
    const auto card = CardStack::create(dir_, "card", {"--provisioned"});
    start(card);
    ASSERT_EQ(unlock(kCardPin).exit_code, 0);
    const std::string enc = (dir_ / "data.enc").string();
    auto e = run_command({"openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey",
                          write_public_key(card, "9D"), "-pkeyopt", "rsa_padding_mode:oaep", "-in",
                          (dir_ / "data").string(), "-out", enc});
    ASSERT_EQ(e.exit_code, 0) << describe(e);
    auto d = agent_.cli({"decrypt", "--key", agent_.key(kKeyMgmtKey).id, "--in", enc});
    ASSERT_EQ(d.exit_code, 0) << describe(d) << agent_.log();
    EXPECT_EQ(d.out, read_file(dir_ / "data"));
}

TEST_F(CardAgentTest, EcdhOn9D) {
    const auto card = CardStack::create(dir_, "card", {"--provisioned", "--key", "9D=p256"});
    start(card);
    ASSERT_EQ(unlock(kCardPin).exit_code, 0);
    const std::string peer = (dir_ / "peer.pem").string();
    const std::string peer_pub = (dir_ / "peer-pub.der").string();
    ASSERT_EQ(run_command({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                           "ec_paramgen_curve:P-256", "-out", peer})
                  .exit_code,
              0);
    // The peer's point: the last 65 bytes of its DER SubjectPublicKeyInfo.
    ASSERT_EQ(run_command(
                  {"openssl", "pkey", "-in", peer, "-pubout", "-outform", "DER", "-out", peer_pub})
                  .exit_code,
              0);
    const std::string spki = read_file(peer_pub);
    ASSERT_GE(spki.size(), 65u);
    Bytes point(spki.end() - 65, spki.end());
    auto expected = run_command({"openssl", "pkeyutl", "-derive", "-inkey", peer, "-peerkey",
                                 write_public_key(card, "9D")});
    ASSERT_EQ(expected.exit_code, 0) << describe(expected);

    auto c = agent_.client();
    auto reply = c.call(protocol::DeriveRequest{agent_.key(kKeyMgmtKey).id, point});
    ASSERT_TRUE(reply) << reply.error().message();
    auto* derived = std::get_if<protocol::DeriveReply>(&*reply);
    ASSERT_NE(derived, nullptr) << std::get<protocol::ErrorReply>(*reply).message;
    EXPECT_EQ(std::string(derived->secret.begin(), derived->secret.end()), expected.out);
}

TEST_F(CardAgentTest, SshSocketSignsForGit) {
    const auto card = CardStack::create(dir_, "card", {"--provisioned"});
    start(card);
    ASSERT_EQ(unlock(kCardPin).exit_code, 0);
    const std::map<std::string, std::string> ssh_env{
        {"SSH_AUTH_SOCK", (agent_.dir() / "run/ssh.sock").string()}};
    auto listed = run_command({"ssh-add", "-l"}, {}, ssh_env);
    ASSERT_EQ(listed.exit_code, 0) << describe(listed);
    EXPECT_NE(listed.out.find("RSA"), std::string::npos) << listed.out;

    auto pub = agent_.cli({"pubkey", "--key", agent_.key(kAuthKey).id, "--format", "ssh"});
    ASSERT_EQ(pub.exit_code, 0) << describe(pub);
    const auto pub_file = dir_ / "id.pub";
    write_file(pub_file, pub.out);
    write_file(dir_ / "allowed", "holder@example.org " + pub.out);
    auto signed_ = run_command({"ssh-keygen", "-Y", "sign", "-n", "git", "-f", pub_file.string(),
                                (dir_ / "data").string()},
                               {}, ssh_env);
    ASSERT_EQ(signed_.exit_code, 0) << describe(signed_) << agent_.log();
    auto verified =
        run_command({"ssh-keygen", "-Y", "verify", "-f", (dir_ / "allowed").string(), "-I",
                     "holder@example.org", "-n", "git", "-s", (dir_ / "data.sig").string()},
                    read_file(dir_ / "data"));
    EXPECT_EQ(verified.exit_code, 0) << describe(verified);
}

// What a program loading attache-pkcs11.so needs: the agent's socket (and in the sanitizer
// build the ASan runtime first, as the module is instrumented and the tool is not).
std::map<std::string, std::string> forwarding_env(const std::string& socket) {
    std::map<std::string, std::string> env{{"ATTACHE_SOCK", socket}};
#ifdef ATTACHE_ASAN_RUNTIME
    env["LD_PRELOAD"] = ATTACHE_ASAN_RUNTIME;
    env["ASAN_OPTIONS"] = "detect_leaks=0";
#endif
    return env;
}

TEST_F(CardAgentTest, ForwardingModuleSignsWithPkcs11Tool) {
    const auto card = CardStack::create(dir_, "card", {"--provisioned"});
    start(card);
    ASSERT_EQ(unlock(kCardPin).exit_code, 0);
    const std::string sig = (dir_ / "sig-fwd").string();
    auto s =
        run_command({"pkcs11-tool", "--module", ATTACHE_FORWARDING_MODULE_PATH, "--sign", "--label",
                     kAuthKey, "-m", "SHA256-RSA-PKCS", "-i", (dir_ / "data").string(), "-o", sig},
                    {}, forwarding_env(agent_.socket()));
    ASSERT_EQ(s.exit_code, 0) << describe(s) << agent_.log();
    auto v = run_command({"openssl", "dgst", "-sha256", "-verify", write_public_key(card, "9A"),
                          "-signature", sig, (dir_ / "data").string()});
    EXPECT_EQ(v.exit_code, 0) << describe(v);
}

TEST_F(CardAgentTest, RemovalThenReinsertionIsLockedWithoutLogin) {
    const auto card = CardStack::create(dir_, "card", {"--provisioned"});
    start(card, /*spy=*/true);
    ASSERT_EQ(unlock(kCardPin).exit_code, 0);
    const std::string key = agent_.key(kAuthKey).id;
    // Locked, OpenSC shows only 9E's private key: its id is the same whatever the lock state.
    const std::string card_auth = agent_.key("CARD AUTH key").id;
    stack_.remove();
    ASSERT_TRUE(wait_for_status("absent since")) << describe(agent_.cli({"status"}));
    auto s = agent_.cli({"sign", "--key", key, "--in", (dir_ / "data").string()});
    EXPECT_EQ(s.exit_code, cli::kTokenAbsent) << describe(s);
    EXPECT_NE(s.err.find("removed"), std::string::npos) << describe(s);

    const int logins = count_lines_with(spy_log(), "C_Login");
    stack_.insert(card);
    ASSERT_TRUE(wait_for_status("(card removed)")) << describe(agent_.cli({"status"}));
    auto again = agent_.cli({"sign", "--key", card_auth, "--in", (dir_ / "data").string()});
    EXPECT_EQ(again.exit_code, cli::kTokenLocked) << describe(again);
    EXPECT_EQ(count_lines_with(spy_log(), "C_Login"), logins) << "the agent logged in by itself";
}

TEST_F(CardAgentTest, AnotherCardInTheSameReaderIsAnotherTokenLocked) {
    const auto a = CardStack::create(dir_, "a", {"--provisioned", "--serial", "a77a00aa"});
    const auto b = CardStack::create(dir_, "b", {"--provisioned", "--serial", "a77a00bb"});
    start(a);
    ASSERT_EQ(unlock(kCardPin).exit_code, 0);
    const std::string key_a = agent_.key(kAuthKey).id;
    stack_.remove();
    stack_.insert(b);
    ASSERT_TRUE(wait_for_status("a77a00bb")) << describe(agent_.cli({"status"}));
    // Locked, B shows only the key whose public half needs no PIN (9E).
    const std::string key_b = agent_.key("CARD AUTH pubkey").id;
    EXPECT_NE(key_a, key_b);
    auto on_b = agent_.cli({"sign", "--key", key_b, "--in", (dir_ / "data").string()});
    EXPECT_EQ(on_b.exit_code, cli::kTokenLocked) << describe(on_b);
    auto on_a = agent_.cli({"sign", "--key", key_a, "--in", (dir_ / "data").string()});
    EXPECT_EQ(on_a.exit_code, cli::kTokenAbsent) << describe(on_a);
}

TEST_F(CardAgentTest, PcscdRestartRecovers) {
    const auto card = CardStack::create(dir_, "card", {"--provisioned"});
    start(card);
    const int presented = stack_.pins_presented();
    stack_.restart_pcscd();
    // The agent finds the card again by itself.
    unlocks_at_the_first_try(card, presented);
}

TEST_F(CardAgentTest, APcscdRestartTheAgentSleptThroughStillUnlocksOnTheFirstTry) {
    // A loaded (or sanitizer-slowed) agent may miss the whole restart: OpenSC's blocking slot
    // event wait reconnects to the new pcscd quietly and reports nothing, no poll reads the
    // readers, and OpenSC's card stays on the old pcscd (every C_Login CKR_GENERAL_ERROR, the
    // card never reached) until something does. Stopping the agent (by its pid) while pcscd
    // restarts makes it miss the restart every time.
    const auto card = CardStack::create(dir_, "card", {"--provisioned"});
    start(card);
    const int presented = stack_.pins_presented();
    ASSERT_EQ(kill(agent_.pid(), SIGSTOP), 0);
    {
        struct Resume {
            pid_t pid;
            ~Resume() { kill(pid, SIGCONT); }
        } resume{agent_.pid()};
        stack_.restart_pcscd();
        // And a while after it: the new pcscd has settled before the agent looks again.
        std::this_thread::sleep_for(1s);
    }
    unlocks_at_the_first_try(card, presented);
}

TEST_F(CardAgentTest, PinCounterFromTheCard) {
    const auto card = CardStack::create(dir_, "card", {"--provisioned", "--pin-tries", "3"});
    start(card, /*spy=*/false, /*pinentry=*/true);
    auto first = unlock("999999");
    EXPECT_EQ(first.exit_code, cli::kWrongPin) << describe(first);
    auto second = unlock("999999");
    EXPECT_EQ(second.exit_code, cli::kWrongPin) << describe(second);
    // One try left: shown, and the agent refuses to spend it unconfirmed.
    EXPECT_NE(second.err.find("1 PIN try left"), std::string::npos) << describe(second);
    int presented = stack_.pins_presented();
    auto refused = unlock(kCardPin);
    EXPECT_EQ(refused.exit_code, cli::kFinalTry) << describe(refused);
    EXPECT_EQ(stack_.pins_presented(), presented);
    // The last try is spent only when the user confirms it in the agent's dialog.
    pinentry_answers("deny\n");
    auto declined = unlock("999999", {"--confirm-final-try"});
    EXPECT_EQ(declined.exit_code, cli::kFinalTry) << describe(declined);
    EXPECT_EQ(stack_.pins_presented(), presented);
    pinentry_answers("allow\n");
    auto blocking = unlock("999999", {"--confirm-final-try"});
    EXPECT_EQ(blocking.exit_code, cli::kWrongPin) << describe(blocking);
    EXPECT_EQ(prompts(), 2);
    ASSERT_TRUE(wait_for_status("PIN BLOCKED")) << describe(agent_.cli({"status"}));
    // Blocked: reported, and the right PIN never reaches the card.
    presented = stack_.pins_presented();
    auto blocked = unlock(kCardPin, {"--confirm-final-try"});
    EXPECT_EQ(blocked.exit_code, cli::kPinBlocked) << describe(blocked);
    EXPECT_EQ(stack_.pins_presented(), presented) << stack_.card_log();
}

TEST_F(CardAgentTest, PinUnblockWithThePuk) {
    const auto card = CardStack::create(
        dir_, "card", {"--provisioned", "--pin-tries", "1", "--serial", "a77a00ee"});
    start(card, /*spy=*/false, /*pinentry=*/true);
    pinentry_answers("allow\n");  // the user confirms spending the last try
    auto blocking = unlock("999999", {"--confirm-final-try"});
    ASSERT_EQ(blocking.exit_code, cli::kWrongPin) << describe(blocking);
    ASSERT_TRUE(wait_for_status("PIN BLOCKED")) << describe(agent_.cli({"status"}));
    const std::vector<std::string> unblock{"pin",
                                           "unblock",
                                           "--module",
                                           kOpenscModule,
                                           "--token",
                                           "pkcs11:serial=00000000a77a00ee",
                                           "--so-pin-source",
                                           "env:PUK",
                                           "--new-pin-source",
                                           "env:NEW_PIN",
                                           "--reason",
                                           "holder forgot the PIN",
                                           "--inventory",
                                           (dir_ / "inventory.db").string()};
    std::map<std::string, std::string> env{{"PUK", kCardPuk}, {"NEW_PIN", "654321"}};
    // OpenSC's default configuration allows no unblocking: refused, the card untouched.
    auto refused = agent_.cli(unblock, {}, env);
    EXPECT_NE(refused.exit_code, 0) << describe(refused);
    EXPECT_NE(refused.err.find("user_pin_unblock_style"), std::string::npos) << describe(refused);
    EXPECT_EQ(stack_.card_log().find("PIN unblocked"), std::string::npos);
    // With the setting for this one command (docs/admin-guide.md), the PUK resets the PIN.
    const auto conf = dir_ / "opensc-unblock.conf";
    write_file(conf,
               "app default { use_file_caching = no; }\n"
               "app opensc-pkcs11 { pkcs11 { user_pin_unblock_style = "
               "set_pin_in_unlogged_session; } }\n");
    env["OPENSC_CONF"] = conf.string();
    auto unblocked = agent_.cli(unblock, {}, env);
    ASSERT_EQ(unblocked.exit_code, 0) << describe(unblocked);
    EXPECT_NE(stack_.card_log().find("PIN unblocked with the PUK"), std::string::npos);
    // OpenSC in the agent's process keeps the PIN state it read when the card came in (the
    // token still says "PIN BLOCKED"): the holder gets the card back from the admin, and the
    // agent reads it afresh.
    stack_.remove();
    stack_.insert(card);
    ASSERT_TRUE(wait_for_status("(card removed)")) << describe(agent_.cli({"status"}));
    EXPECT_EQ(agent_.cli({"status"}).out.find("PIN BLOCKED"), std::string::npos);
    pinentry_answers("allow\n");  // the card allows one try in all: confirmed in the dialog
    auto u = unlock("654321", {"--confirm-final-try"});
    EXPECT_EQ(u.exit_code, 0) << describe(u) << agent_.log();
}

// 9C needs the PIN right before each signature: pkcs11-tool gives it with its own
// C_Login(CKU_CONTEXT_SPECIFIC) through attache-pkcs11.so, which sends it with that one
// signature to the agent; the agent's pinentry is not asked.
TEST_F(CardAgentTest, ForwardingModuleSigns9CWithTheApplicationsContextLogin) {
    const auto card = CardStack::create(dir_, "card", {"--provisioned"});
    start(card, /*spy=*/false, /*pinentry=*/true);
    ASSERT_EQ(unlock(kCardPin).exit_code, 0);
    const int verifies = stack_.pins_presented();
    const protocol::KeyEntry key = agent_.key("SIGN key");
    const bool rsa = key.type == protocol::KeyType::rsa;
    const std::string sig = (dir_ / "sig-9c-fwd").string();
    auto s = run_command(
        {"pkcs11-tool", "--module", ATTACHE_FORWARDING_MODULE_PATH, "--sign", "--id",
         hex(key.cka_id), "-m", rsa ? "SHA256-RSA-PKCS" : "ECDSA-SHA256", "--signature-format",
         "openssl", "--login", "--pin", kCardPin, "-i", (dir_ / "data").string(), "-o", sig},
        {}, forwarding_env(agent_.socket()));
    ASSERT_EQ(s.exit_code, 0) << describe(s) << agent_.log();
    auto v = run_command({"openssl", "dgst", "-sha256", "-verify", write_public_key(card, "9C"),
                          "-signature", sig, (dir_ / "data").string()});
    EXPECT_EQ(v.exit_code, 0) << describe(v);
    EXPECT_NE(v.out.find("Verified OK"), std::string::npos) << describe(v);
    EXPECT_EQ(prompts(), 0) << "the application's PIN, not the agent's dialog";
    EXPECT_EQ(stack_.pins_presented(), verifies + 1) << "one VERIFY for the one signature";
}

}  // namespace
}  // namespace attache::testing
