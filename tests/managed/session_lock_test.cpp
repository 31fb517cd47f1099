// Managed mode follows every login session (logind, here a stand-in on a real dbus-daemon that
// the broker takes for the system bus): the holder's cards lock when the holder's seat session
// locks, is switched away from or ends, and when the machine sleeps; another user's session
// does not touch them. Each lock is audited and its reason shown in `attache status`.

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/managed/managed_fixture.h"
#include "tests/support/eventually.h"
#include "tests/workstation/private_bus.h"

namespace attache::testing {
namespace {

StandInSession seat_session(const std::string& id, const std::string& user) {
    StandInSession s;
    s.id = id;
    s.seat = "seat0";
    s.klass = "user";
    s.type = "x11";
    s.uid = uid_of(user);
    s.name = user;
    return s;
}

class ManagedSessionLocks : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!ManagedFixture::can_run())
            GTEST_SKIP() << "managed mode runs as root (CI does): it makes users and a broker";
        bus_ = std::make_unique<PrivateBus>();
        if (!bus_->running())
            GTEST_SKIP() << "dbus-daemon did not start (install dbus-daemon)";
        // The broker runs as `attache`: it must reach the bus's socket.
        const std::string address = bus_->address();
        const std::filesystem::path socket = address.substr(address.find('=') + 1);
        ASSERT_EQ(chmod(socket.parent_path().c_str(), 0755), 0);
        logind_ = std::make_unique<LogindSessionsStandIn>(*bus_);
        ASSERT_TRUE(logind_->ready());
        logind_->add_session(seat_session("h1", kHolder));
        logind_->add_session(seat_session("o1", kOther));
        fixture_ = std::make_unique<ManagedFixture>();
        serial_ = fixture_->add_card({"holder-card", {"01"}});
        manifest::CardManifest m;
        m.cards.push_back(fixture_->manifest_card(serial_, kHolder, {"01"}));
        fixture_->write_manifest(m);
        fixture_->start({}, {{"DBUS_SYSTEM_BUS_ADDRESS", address}});
        ASSERT_TRUE(fixture_->log_has("logind: watching 2 session(s)")) << fixture_->log();
        auto unlocked =
            fixture_->cli_as(kHolder, {"unlock", "--pin-source", "env:ATTACHE_PIN"}, kPin);
        ASSERT_EQ(unlocked.exit_code, 0) << describe(unlocked) << fixture_->log();
        ASSERT_EQ(card_state(), "unlocked");
    }
    // "unlocked", or the reason it was locked, as the holder's `attache status` shows it.
    std::string card_state() {
        auto status = fixture_->cli_as(kHolder, {"status", "--json"});
        if (status.exit_code != 0)
            return "status failed: " + describe(status);
        const auto json = nlohmann::json::parse(status.out);
        for (const auto& t : json["tokens"]) {
            if (t["serial"] == serial_)
                return t["unlocked"].get<bool>() ? "unlocked" : t["lock_reason"].get<std::string>();
        }
        return "no card: " + status.out;
    }
    bool locked_for(const std::string& reason) {
        return eventually([&] { return card_state() == reason; }, std::chrono::seconds(10));
    }
    // The audit record of the lock (the broker's log carries the same fields as the file).
    bool audited(const std::string& reason) {
        return fixture_->log_has("op=lock via=logind token=" + serial_ +
                                 " uid=" + std::to_string(uid_of(kHolder))) &&
               fixture_->log_has(reason.find(' ') == std::string::npos
                                     ? "reason=" + reason
                                     : "reason=\"" + reason + "\"");
    }

    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<LogindSessionsStandIn> logind_;
    std::unique_ptr<ManagedFixture> fixture_;
    std::string serial_;
};

TEST_F(ManagedSessionLocks, TheHoldersSessionLockingLocksTheCard) {
    ASSERT_GE(logind_->lock("h1"), 0);
    EXPECT_TRUE(locked_for("session locked")) << card_state() << fixture_->log();
    EXPECT_TRUE(audited("session locked")) << fixture_->log();
    auto text = fixture_->cli_as(kHolder, {"status"});
    EXPECT_NE(text.out.find("(session locked)"), std::string::npos) << describe(text);
}

TEST_F(ManagedSessionLocks, AnotherUsersSessionLockingLeavesTheCardUnlocked) {
    ASSERT_GE(logind_->lock("o1"), 0);
    ASSERT_GE(logind_->set_active("o1", false), 0);
    ASSERT_GE(logind_->remove_session("o1"), 0);
    // The broker handles signals in order: once a later one of the holder's has locked the
    // card, the other user's three were handled before it, and did not lock it.
    EXPECT_TRUE(
        fixture_->log_has("session o1 of uid " + std::to_string(uid_of(kOther)) + ": logged out"))
        << fixture_->log();
    EXPECT_EQ(card_state(), "unlocked");
    ASSERT_GE(logind_->set_locked_hint("h1", true), 0);
    EXPECT_TRUE(locked_for("session locked")) << card_state() << fixture_->log();
}

TEST_F(ManagedSessionLocks, SwitchingAwayFromTheHoldersSessionLocksTheCard) {
    ASSERT_GE(logind_->set_active("h1", false), 0);
    EXPECT_TRUE(locked_for("user switched")) << card_state() << fixture_->log();
    EXPECT_TRUE(audited("user switched")) << fixture_->log();
}

TEST_F(ManagedSessionLocks, TheHolderLoggingOutLocksTheCard) {
    ASSERT_GE(logind_->remove_session("h1"), 0);
    EXPECT_TRUE(locked_for("logged out")) << card_state() << fixture_->log();
    EXPECT_TRUE(audited("logged out")) << fixture_->log();
}

TEST_F(ManagedSessionLocks, ASessionThatCameLaterIsFollowedToo) {
    ASSERT_GE(logind_->new_session(seat_session("h2", kHolder)), 0);
    ASSERT_GE(logind_->lock("h2"), 0);
    EXPECT_TRUE(locked_for("session locked")) << card_state() << fixture_->log();
}

TEST_F(ManagedSessionLocks, ARemoteSessionOfTheHolderEndingDoesNotLockTheCard) {
    StandInSession ssh = seat_session("r1", kHolder);
    ssh.remote = true;
    ssh.seat.clear();
    ssh.type = "tty";
    ASSERT_GE(logind_->new_session(ssh), 0);
    ASSERT_GE(logind_->remove_session("r1"), 0);
    ASSERT_GE(logind_->lock("o1"), 0);
    EXPECT_TRUE(fixture_->log_has("session o1 of uid " + std::to_string(uid_of(kOther)) +
                                  ": session locked"))
        << fixture_->log();
    EXPECT_EQ(card_state(), "unlocked");
}

TEST_F(ManagedSessionLocks, PrepareForSleepLocksEveryCard) {
    ASSERT_GE(logind_->prepare_for_sleep(true), 0);
    EXPECT_TRUE(locked_for("sleep")) << card_state() << fixture_->log();
    EXPECT_TRUE(audited("sleep")) << fixture_->log();
}

}  // namespace
}  // namespace attache::testing
