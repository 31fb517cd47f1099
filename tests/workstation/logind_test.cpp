// Screen lock and suspend: logind's signals, sent on a private D-Bus bus that the agent takes
// for the system bus ($DBUS_SYSTEM_BUS_ADDRESS), lock the tokens.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "tests/workstation/private_bus.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

constexpr const char* kLoginPath = "/org/freedesktop/login1";
constexpr const char* kManager = "org.freedesktop.login1.Manager";
constexpr const char* kSession = "org.freedesktop.login1.Session";

// Sends a signal and waits until it has left.
template <typename... Args>
int emit(sd_bus* bus, const char* path, const char* interface, const char* member,
         const char* types, Args... args) {
    int r = sd_bus_emit_signal(bus, path, interface, member, types, args...);
    if (r >= 0)
        r = sd_bus_flush(bus);
    return r;
}

std::string session_path(const char* id) {
    char* path = nullptr;
    EXPECT_GE(sd_bus_path_encode("/org/freedesktop/login1/session", id, &path), 0);
    std::string out = path;
    std::free(path);
    return out;
}

class LogindTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!bus_.running())
            GTEST_SKIP() << "dbus-daemon did not start (install dbus-daemon)";
        ASSERT_NE(bus_.logind(), nullptr);
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_.address().c_str(), 1);
        setenv("XDG_SESSION_ID", "7", 1);
        agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "a", {.sign = true}}});
        agent_.add_token("bob", {{p11::KeyAlgorithm::ec_p256, "b", {.sign = true}}});
    }
    void TearDown() override {
        unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
        unsetenv("XDG_SESSION_ID");
    }
    void start_and_unlock(const std::string& extra = {}) {
        agent_.start({.extra_config = extra});
        agent_.unlock("pkcs11:token=alice");
        agent_.unlock("pkcs11:token=bob");
    }
    bool both_locked_for(const std::string& reason) {
        return eventually([&] {
            auto a = token_status(agent_, "alice");
            auto b = token_status(agent_, "bob");
            return !a.unlocked && !b.unlocked && a.lock_reason == reason && b.lock_reason == reason;
        });
    }
    bool still_unlocked() {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        return token_status(agent_, "alice").unlocked && token_status(agent_, "bob").unlocked;
    }

    PrivateBus bus_;
    AgentFixture agent_;
};

TEST_F(LogindTest, PrepareForSleepLocksEveryToken) {
    start_and_unlock();
    ASSERT_GE(emit(bus_.logind(), kLoginPath, kManager, "PrepareForSleep", "b", 1), 0);
    EXPECT_TRUE(both_locked_for("suspend")) << agent_.log();
    // Waking up locks nothing more, and the agent serves on.
    ASSERT_GE(emit(bus_.logind(), kLoginPath, kManager, "PrepareForSleep", "b", 0), 0);
    agent_.unlock("pkcs11:token=alice");
    EXPECT_TRUE(token_status(agent_, "alice").unlocked);
}

TEST_F(LogindTest, OurSessionsLockSignalLocksEveryToken) {
    start_and_unlock();
    ASSERT_GE(emit(bus_.logind(), session_path("7").c_str(), kSession, "Lock", ""), 0);
    EXPECT_TRUE(both_locked_for("screen lock")) << agent_.log();
    EXPECT_NE(agent_.log().find("screen lock: locked 2 token(s)"), std::string::npos)
        << agent_.log();
    EXPECT_EQ(agent_.stop(), 0) << agent_.log();
}

TEST_F(LogindTest, AnotherSessionsLockAndImpostorsAreIgnored) {
    start_and_unlock();
    // Another session of the machine locks its screen.
    ASSERT_GE(emit(bus_.logind(), session_path("8").c_str(), kSession, "Lock", ""), 0);
    // A process that is not logind sends logind's signals.
    ASSERT_GE(emit(bus_.impostor(), kLoginPath, kManager, "PrepareForSleep", "b", 1), 0);
    ASSERT_GE(emit(bus_.impostor(), session_path("7").c_str(), kSession, "Lock", ""), 0);
    EXPECT_TRUE(still_unlocked()) << agent_.log();
    // The real one still works after them.
    ASSERT_GE(emit(bus_.logind(), session_path("7").c_str(), kSession, "Lock", ""), 0);
    EXPECT_TRUE(both_locked_for("screen lock")) << agent_.log();
}

TEST_F(LogindTest, ConfigurationCanTurnTheTriggersOff) {
    start_and_unlock("lock_on_screen_lock = false\nlock_on_suspend = false");
    ASSERT_GE(emit(bus_.logind(), session_path("7").c_str(), kSession, "Lock", ""), 0);
    ASSERT_GE(emit(bus_.logind(), kLoginPath, kManager, "PrepareForSleep", "b", 1), 0);
    EXPECT_TRUE(still_unlocked()) << agent_.log();
}

TEST(LogindAbsent, NoSystemBusIsNotFatal) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "a", {.sign = true}}});
    setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus", 1);
    agent.start();
    unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
    EXPECT_EQ(agent.cli({"status"}).exit_code, 0);
    EXPECT_NE(agent.log().find("screen lock and suspend will not lock"), std::string::npos)
        << agent.log();
}

}  // namespace
}  // namespace attache::testing
