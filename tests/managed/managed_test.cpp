// Managed mode end to end: the broker as the `attache` system user serves each card to its
// holder by the signed card manifest, and nothing the holder's uid controls (its environment,
// its files, a relay of the socket) reaches the card or a PIN.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/managed/managed_fixture.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {
namespace {

protocol::UnlockRequest unlock_request(const std::string& token) {
    protocol::UnlockRequest r;
    r.token = token;
    r.pin.emplace();
    Secret::from(kCardPin, *r.pin);
    return r;
}

protocol::SignRequest sign_request(const std::string& key) {
    protocol::SignRequest r;
    r.key = key;
    r.data = to_bytes("the message");
    return r;
}

class ManagedMode : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!ManagedFixture::can_run())
            GTEST_SKIP() << "managed mode runs as root (CI does): it makes users and a broker";
        fixture_ = std::make_unique<ManagedFixture>();
    }
    // The holder's card with two keys; the manifest lists `listed`.
    void card_with_keys(const std::vector<std::string>& listed,
                        const std::string& state = "active") {
        serial_ = fixture_->add_card({"holder-card", {"01", "02"}});
        manifest::CardManifest m;
        m.cards.push_back(fixture_->manifest_card(serial_, kHolder, listed, state));
        fixture_->write_manifest(m);
    }
    CommandResult holder(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {}) {
        return fixture_->cli_as(kHolder, args, env);
    }
    // Signs data as the holder with key `id`; returns the CLI's result and the signature file.
    CommandResult sign_as_holder(const std::string& key, const std::filesystem::path& sig) {
        write_file(fixture_->root() / "run/data.txt", "the message");  // readable by all
        chmod((fixture_->root() / "run/data.txt").c_str(), 0644);
        return holder({"sign", "--key", key, "--in", (fixture_->root() / "run/data.txt").string(),
                       "--out", sig.string()});
    }
    std::unique_ptr<ManagedFixture> fixture_;
    std::string serial_;
};

TEST_F(ManagedMode, TheHolderIsServedAndTheSignatureVerifies) {
    card_with_keys({"01", "02"});
    fixture_->start();
    auto unlocked = holder({"unlock", "--pin-source", "env:ATTACHE_PIN"}, kPin);
    ASSERT_EQ(unlocked.exit_code, 0) << describe(unlocked) << fixture_->log();
    auto keys = holder({"keys", "--json"});
    ASSERT_EQ(keys.exit_code, 0) << describe(keys);
    EXPECT_NE(keys.out.find("key-01"), std::string::npos) << keys.out;

    const auto out = fixture_->writable_dir(kHolder);
    auto signed_ = sign_as_holder("key-01", out / "sig");
    ASSERT_EQ(signed_.exit_code, 0) << describe(signed_) << fixture_->log();
    auto verified =
        run_command({"openssl", "dgst", "-sha256", "-verify",
                     fixture_->public_key(serial_, "01").string(), "-keyform", "DER", "-signature",
                     (out / "sig").string(), (fixture_->root() / "run/data.txt").string()});
    EXPECT_NE(verified.out.find("Verified OK"), std::string::npos) << describe(verified);
    // The broker runs as its own user, not root and not the holder.
    const std::string proc = read_file("/proc/" + std::to_string(fixture_->pid()) + "/status");
    const std::string uid = std::to_string(uid_of("attache"));
    EXPECT_NE(proc.find("Uid:\t" + uid + "\t" + uid + "\t" + uid), std::string::npos) << proc;
}

TEST_F(ManagedMode, AnotherUserSeesNoCardAndCannotUnlockIt) {
    card_with_keys({"01", "02"});
    fixture_->start();
    auto status = fixture_->cli_as(kOther, {"status", "--json"});
    ASSERT_EQ(status.exit_code, 0) << describe(status);
    EXPECT_EQ(status.out.find(serial_), std::string::npos) << status.out;
    auto unlocked = fixture_->cli_as(kOther, {"unlock", "--pin-source", "env:ATTACHE_PIN"}, kPin);
    EXPECT_NE(unlocked.exit_code, 0);
    EXPECT_NE(unlocked.err.find("no card of yours"), std::string::npos) << describe(unlocked);
    // A program of the other user's own, naming the card: the broker itself refuses.
    EXPECT_EQ(fixture_->call_as(kOther, unlock_request("")),
              "none of the cards present is yours (by the card manifest); insert your card");
    EXPECT_NE(fixture_->call_as(kOther, unlock_request("pkcs11:serial=" + serial_))
                  .find("belongs to another holder"),
              std::string::npos);
    EXPECT_NE(fixture_->call_as(kOther, sign_request("pkcs11:id=%01")).find("another holder"),
              std::string::npos);
    // The holder's own status shows the card, still locked: no PIN of the other user's landed.
    auto own = holder({"status", "--json"});
    EXPECT_NE(own.out.find(serial_), std::string::npos) << own.out;
    EXPECT_NE(own.out.find("\"unlocked\": false"), std::string::npos) << own.out;
}

TEST_F(ManagedMode, AKeyTheManifestDoesNotListIsNotServed) {
    card_with_keys({"01"});
    fixture_->start();
    ASSERT_EQ(holder({"unlock", "--pin-source", "env:ATTACHE_PIN"}, kPin).exit_code, 0);
    auto keys = holder({"keys", "--json"});
    EXPECT_NE(keys.out.find("key-01"), std::string::npos) << keys.out;
    EXPECT_EQ(keys.out.find("key-02"), std::string::npos) << keys.out;
    EXPECT_EQ(sign_as_holder("pkcs11:id=%01", fixture_->writable_dir(kHolder) / "sig1").exit_code,
              0);
    // The CLI does not offer the key; a program naming it directly is refused by the broker.
    auto refused = sign_as_holder("pkcs11:id=%02", fixture_->writable_dir(kHolder) / "sig2");
    EXPECT_NE(refused.exit_code, 0) << describe(refused);
    EXPECT_NE(fixture_->call_as(kHolder, sign_request("pkcs11:id=%02"))
                  .find("not one the card manifest lists"),
              std::string::npos);
}

TEST_F(ManagedMode, AFakeTokenWithTheCardsLabelAndSerialIsRefusedBeforeAnyPin) {
    // The manifest names the real card's key; the token present has the same label and serial
    // and a key of its own. Every call the broker makes goes through pkcs11-spy.
    serial_ = fixture_->add_card({"holder-card", {"01"}});
    manifest::CardManifest m;
    manifest::ManifestCard card = fixture_->manifest_card(serial_, kHolder, {"01"});
    card.keys[0].spki_sha256 = std::string(64, 'a');  // the real card's key, not this one's
    m.cards.push_back(card);
    fixture_->write_manifest(m);
    const auto spy_dir = fixture_->root() / "spy";
    std::filesystem::create_directory(spy_dir);
    ASSERT_EQ(chown(spy_dir.c_str(), uid_of("attache"), static_cast<gid_t>(-1)), 0);
    const std::string spy = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so";
    ASSERT_TRUE(std::filesystem::exists(spy));
    fixture_->module_line = "modules = [\"" + spy + "\"]";
    fixture_->module_environment = {"PKCS11SPY=/usr/lib/softhsm/libsofthsm2.so",
                                    "PKCS11SPY_OUTPUT=" + (spy_dir / "calls.log").string()};
    fixture_->start();
    auto unlocked = holder({"unlock", "--pin-source", "env:ATTACHE_PIN"}, kPin);
    EXPECT_NE(unlocked.exit_code, 0) << describe(unlocked);
    EXPECT_NE(fixture_->call_as(kHolder, unlock_request("pkcs11:serial=" + serial_))
                  .find("does not show the authentication key the card manifest lists for it; "
                        "it is not the enrolled card"),
              std::string::npos);
    const std::string calls = read_file(spy_dir / "calls.log");
    EXPECT_NE(calls.find("C_GetTokenInfo"), std::string::npos) << "the spy saw nothing";
    EXPECT_EQ(calls.find("C_Login"), std::string::npos) << "a PIN reached the fake token";
}

TEST_F(ManagedMode, AfterTheUnlockEveryListedKeyMustBeThere) {
    // Before the PIN one listed key shown is enough (a PIV card shows only 9E then); once
    // unlocked, a key the manifest lists that the token does not have means another card.
    serial_ = fixture_->add_card({"holder-card", {"01"}});
    manifest::CardManifest m;
    manifest::ManifestCard card = fixture_->manifest_card(serial_, kHolder, {"01"});
    card.keys.push_back({"encryption", std::string(64, 'e')});
    m.cards.push_back(card);
    fixture_->write_manifest(m);
    fixture_->start();
    ASSERT_EQ(holder({"unlock", "--pin-source", "env:ATTACHE_PIN"}, kPin).exit_code, 0);
    EXPECT_NE(fixture_->call_as(kHolder, sign_request("pkcs11:id=%01"))
                  .find("does not show the encryption key"),
              std::string::npos);
    EXPECT_TRUE(fixture_->log_has("locked 'holder-card'")) << fixture_->log();
}

TEST_F(ManagedMode, ACardMarkedLostIsRefusedAndLockedAtTheNextManifestCheck) {
    card_with_keys({"01"});
    fixture_->start();
    ASSERT_EQ(holder({"unlock", "--pin-source", "env:ATTACHE_PIN"}, kPin).exit_code, 0);
    const auto out = fixture_->writable_dir(kHolder);
    ASSERT_EQ(sign_as_holder("key-01", out / "sig-a").exit_code, 0) << fixture_->log();
    manifest::CardManifest lost;
    lost.cards.push_back(fixture_->manifest_card(serial_, kHolder, {"01"}, "lost"));
    fixture_->write_manifest(lost);
    // The broker looks at the files again once kManifestRecheck (100 ms) has passed since it
    // last did: the requests poll for that, the bound on a failure is eventually()'s.
    std::string reply;
    EXPECT_TRUE(eventually([&] {
        reply = fixture_->call_as(kHolder, sign_request("pkcs11:id=%01"));
        return reply.find("is marked lost") != std::string::npos;
    })) << reply;
    EXPECT_NE(sign_as_holder("key-01", out / "sig-b").exit_code, 0);
    // Found again: the card is served, but its login ended when it was refused.
    manifest::CardManifest found;
    found.cards.push_back(fixture_->manifest_card(serial_, kHolder, {"01"}));
    fixture_->write_manifest(found);
    EXPECT_TRUE(eventually([&] {
        reply = fixture_->call_as(kHolder, sign_request("pkcs11:id=%01"));
        return reply.find("is marked lost") == std::string::npos;
    })) << reply;
    EXPECT_NE(reply.find("locked"), std::string::npos) << reply;
    auto locked = sign_as_holder("key-01", out / "sig-c");
    EXPECT_NE(locked.exit_code, 0);
    EXPECT_NE(locked.err.find("locked"), std::string::npos) << describe(locked);
    EXPECT_TRUE(fixture_->log_has("not served by the card manifest")) << fixture_->log();
}

TEST_F(ManagedMode, TheClientRefusesASocketRelayedByTheUsersOwnUid) {
    card_with_keys({"01"});
    fixture_->start();
    // A relay the holder's uid could set up: a socket of its own, named by ATTACHE_SOCK.
    const auto relay_dir = fixture_->root() / "relay";
    std::filesystem::create_directory(relay_dir);
    const auto relay = relay_dir / "agent.sock";
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", relay.c_str());
    ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(listener, 4), 0);
    chmod(relay.c_str(), 0666);
    auto env = kPin;
    env["ATTACHE_SOCK"] = relay.string();
    auto r = holder({"unlock", "--pin-source", "env:ATTACHE_PIN"}, env);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("managed mode"), std::string::npos) << describe(r);
    EXPECT_LT(accept(listener, nullptr, nullptr), 0) << "the client connected to the relay";
    close(listener);
}

TEST_F(ManagedMode, SshAddCannotUnlockTheCard) {
    // ssh-add -X cannot check who listens on SSH_AUTH_SOCK, so the broker takes no PIN there.
    card_with_keys({"01"});
    fixture_->start();
    const auto askpass = fixture_->root() / "bin/askpass";
    write_file(askpass, std::string("#!/bin/sh\necho ") + kCardPin + "\n");
    ASSERT_EQ(chmod(askpass.c_str(), 0755), 0);
    auto r = fixture_->run_as(kHolder, {"ssh-add", "-X"},
                              {{"SSH_AUTH_SOCK", (fixture_->root() / "run/ssh.sock").string()},
                               {"SSH_ASKPASS", askpass.string()},
                               {"SSH_ASKPASS_REQUIRE", "force"},
                               {"DISPLAY", ":0"}});
    EXPECT_NE(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(fixture_->log_has("not `ssh-add -X`")) << fixture_->log();
    auto status = holder({"status", "--json"});
    EXPECT_NE(status.out.find("\"unlocked\": false"), std::string::npos) << status.out;
}

TEST_F(ManagedMode, WithoutAPolicyFileClientsNotAtTheSeatAreRefused) {
    // The built-in managed policy: a process outside any logind session on a seat (here: no
    // logind at all, as for cron or a user service) is refused, and the audit names the rule.
    card_with_keys({"01"});
    std::filesystem::remove(fixture_->etc() / "policy.toml");
    fixture_->start();
    EXPECT_NE(fixture_->call_as(kHolder, unlock_request("")).find("not at the holder's seat"),
              std::string::npos);
    EXPECT_TRUE(fixture_->log_has("the built-in managed policy rule 1 'not at the holder's seat'"))
        << fixture_->log();
    auto status = holder({"status", "--json"});
    EXPECT_NE(status.out.find("\"unlocked\": false"), std::string::npos) << status.out;
}

TEST_F(ManagedMode, ModulesAndConfigurationFromTheUserAreNeverUsed) {
    card_with_keys({"01"});
    // A module on the command line: refused before anything is loaded.
    const auto marker = fixture_->root() / "run/marker";
    fixture_->start({"--module", ATTACHE_MARKER_MODULE_PATH},
                    {{"ATTACHE_TEST_MARKER", marker.string()}}, false);
    EXPECT_EQ(fixture_->wait_exit(), 1);
    EXPECT_TRUE(fixture_->log_has("--module")) << fixture_->log();
    // A user's configuration naming the module, and LD_PRELOAD: never read, refused.
    TempDir home("attache-managed-home");
    std::filesystem::create_directories(home / ".config/attache");
    write_file(home / ".config/attache/agent.toml",
               "modules = [\"" + std::string(ATTACHE_MARKER_MODULE_PATH) + "\"]\n");
    fixture_->start({}, {{"HOME", home.path().string()},
                         {"XDG_CONFIG_HOME", (home / ".config").string()},
                         {"ATTACHE_TEST_MARKER", marker.string()}});
    auto keys = holder({"keys", "--json"});
    EXPECT_EQ(keys.exit_code, 0) << describe(keys);
    fixture_->stop();
    EXPECT_FALSE(std::filesystem::exists(marker)) << "the user's module was loaded";
    fixture_->start(
        {}, {{"LD_PRELOAD", ATTACHE_MARKER_MODULE_PATH}, {"ATTACHE_TEST_MARKER", marker.string()}},
        false);
#ifdef ATTACHE_SANITIZED_BUILD
    // The ASan runtime refuses a preloaded library before main() (it must come first).
    EXPECT_NE(fixture_->wait_exit(), 0);
    EXPECT_TRUE(fixture_->log_has("LD_PRELOAD")) << fixture_->log();
#else
    EXPECT_EQ(fixture_->wait_exit(), 1);
    EXPECT_TRUE(fixture_->log_has("the broker was started with LD_PRELOAD set")) << fixture_->log();
#endif
}

TEST_F(ManagedMode, AConfigurationFileOthersCanWriteStopsTheBroker) {
    card_with_keys({"01"});
    fixture_->start();
    fixture_->stop();
    ASSERT_EQ(chmod((fixture_->etc() / "cards.manifest").c_str(), 0666), 0);
    fixture_->start({}, {}, false);
    EXPECT_EQ(fixture_->wait_exit(), 1);
    EXPECT_TRUE(fixture_->log_has("cards.manifest is writable by everyone")) << fixture_->log();
}

TEST_F(ManagedMode, TheAuditFileIsChainedAndAnAlterationIsReported) {
    card_with_keys({"01"});
    fixture_->start();
    ASSERT_EQ(holder({"unlock", "--pin-source", "env:ATTACHE_PIN"}, kPin).exit_code, 0);
    const auto out = fixture_->writable_dir(kHolder);
    ASSERT_EQ(sign_as_holder("key-01", out / "sig").exit_code, 0);
    EXPECT_NE(fixture_->call_as(kOther, sign_request("pkcs11:id=%01")), "ok");
    fixture_->stop();
    // The file is the broker's: not the holder's to rewrite.
    struct stat st {};
    ASSERT_EQ(stat(fixture_->audit_file().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, uid_of("attache"));
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    const std::string key = fixture_->audit_key().string();
    const std::string file = fixture_->audit_file().string();
    auto intact = run_command({ATTACHE_CLI_PATH, "audit", "verify", file, "--key-file", key});
    EXPECT_EQ(intact.exit_code, 0) << describe(intact);
    EXPECT_NE(intact.out.find("chain intact"), std::string::npos) << describe(intact);
    std::string text = read_file(file);
    EXPECT_NE(text.find("uid=" + std::to_string(uid_of(kHolder))), std::string::npos) << text;
    EXPECT_NE(text.find("uid=" + std::to_string(uid_of(kOther))), std::string::npos) << text;
    // The other user's refused attempt, rewritten as a success: the MAC no longer matches.
    const auto refused = text.find("result=refused-by-policy");
    ASSERT_NE(refused, std::string::npos) << text;
    text.replace(refused, std::string("result=refused-by-policy").size(), "result=ok");
    write_file(file, text);
    auto altered = run_command({ATTACHE_CLI_PATH, "audit", "verify", file, "--key-file", key});
    EXPECT_EQ(altered.exit_code, 17) << describe(altered);
    EXPECT_NE(altered.out.find("altered"), std::string::npos) << describe(altered);
}

// `attache log` as a JSON array of records.
nlohmann::json log_records(const CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    if (r.exit_code != 0)
        return nlohmann::json::array();
    const auto json = nlohmann::json::parse(r.out);
    return json["records"];
}

TEST_F(ManagedMode, EachUserReadsTheirOwnAuditRecordsOnly) {
    card_with_keys({"01"});
    fixture_->start();
    ASSERT_EQ(holder({"unlock", "--pin-source", "env:ATTACHE_PIN"}, kPin).exit_code, 0);
    const auto out = fixture_->writable_dir(kHolder);
    ASSERT_EQ(sign_as_holder("key-01", out / "sig-1").exit_code, 0) << fixture_->log();
    ASSERT_EQ(sign_as_holder("key-01", out / "sig-2").exit_code, 0) << fixture_->log();
    EXPECT_NE(fixture_->call_as(kOther, sign_request("pkcs11:id=%01")), "ok");
    EXPECT_NE(fixture_->call_as(kOther, unlock_request("")), "ok");
    // Every record is in the file before its reply is sent.
    const std::string holder_uid = std::to_string(uid_of(kHolder));
    const std::string other_uid = std::to_string(uid_of(kOther));

    const auto mine = log_records(holder({"log", "--json"}));
    ASSERT_EQ(mine.size(), 3u) << mine.dump(2);
    EXPECT_EQ(mine[0]["op"], "unlock");
    EXPECT_EQ(mine[1]["op"], "sign");
    EXPECT_EQ(mine[2]["op"], "sign");
    EXPECT_LT(mine[1]["seq"].get<uint64_t>(), mine[2]["seq"].get<uint64_t>());  // newest last
    for (const auto& r : mine) {
        EXPECT_EQ(r["uid"], holder_uid) << r.dump();
        EXPECT_EQ(r["result"], "ok") << r.dump();
    }
    const auto theirs = log_records(fixture_->cli_as(kOther, {"log", "--json"}));
    ASSERT_EQ(theirs.size(), 2u) << theirs.dump(2);
    for (const auto& r : theirs) {
        EXPECT_EQ(r["uid"], other_uid) << r.dump();
        EXPECT_NE(r["result"], "ok") << r.dump();
    }
    // The limit: the newest N.
    const auto last = log_records(holder({"log", "--last", "1", "--json"}));
    ASSERT_EQ(last.size(), 1u) << last.dump(2);
    EXPECT_EQ(last[0]["seq"], mine[2]["seq"]);
    auto text = holder({"log", "--last", "2"});
    EXPECT_EQ(text.exit_code, 0) << describe(text);
    EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), 2) << text.out;
    EXPECT_NE(text.out.find("op=sign"), std::string::npos) << text.out;
    EXPECT_EQ(text.out.find("uid=" + other_uid), std::string::npos) << text.out;
    // More than a request may ask for: refused by the CLI (the codec refuses it too).
    auto range = holder({"log", "--last", "1001"});
    EXPECT_EQ(range.exit_code, 2) << describe(range);
}

}  // namespace
}  // namespace attache::testing
