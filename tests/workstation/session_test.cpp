// The login session of a client: logind (a stand-in on a private bus) says local, remote or
// none; without logind, or for a pid it knows nothing of, an sshd among the ancestors means
// remote.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "agent/server/peer.h"
#include "agent/workstation/login_sessions.h"
#include "tests/workstation/private_bus.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

using agent::ClientFacts;
using agent::SessionKind;

// A process started for the test, killed and reaped at the end.
class Child {
  public:
    explicit Child(std::vector<std::string> argv) {
        pid_ = fork();
        if (pid_ == 0) {
            std::vector<char*> args;
            for (auto& a : argv)
                args.push_back(a.data());
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(127);
        }
    }
    ~Child() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
};

ClientFacts facts_of(pid_t pid) {
    ClientFacts facts;
    facts.pid = pid;
    agent::add_process_facts(facts);
    return facts;
}

// A shell copied under `name` that starts `sleep` and waits: the sleep's parent is `name`.
class UnderParent {
  public:
    explicit UnderParent(const std::string& name)
        : shell_([&] {
              std::filesystem::copy_file("/bin/sh", dir_ / name);
              return std::vector<std::string>{
                  (dir_ / name).string(), "-c",
                  "sleep 600 & echo $! > " + (dir_ / "pid").string() + "; wait"};
          }()) {
        eventually([&] {
            return std::filesystem::exists(dir_ / "pid") &&
                   std::filesystem::file_size(dir_ / "pid") > 0;
        });
        sleeper_ = std::stoi(read_file(dir_ / "pid"));
    }
    ~UnderParent() {
        if (sleeper_ > 0)
            kill(sleeper_, SIGKILL);
    }
    pid_t sleeper() const { return sleeper_; }
    pid_t parent() const { return shell_.pid(); }

  private:
    TempDir dir_{"attache-parent"};
    Child shell_;
    pid_t sleeper_ = -1;
};

class SessionTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!bus_.running())
            GTEST_SKIP() << "dbus-daemon did not start (install dbus-daemon)";
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_.address().c_str(), 1);
    }
    void TearDown() override { unsetenv("DBUS_SYSTEM_BUS_ADDRESS"); }

    PrivateBus bus_;
};

TEST_F(SessionTest, LogindSaysLocalRemoteOrNone) {
    LogindSessionsStandIn logind(bus_);
    ASSERT_TRUE(logind.ready());
    Child seat({"/bin/sleep", "600"}), ssh({"/bin/sleep", "600"}), greeter({"/bin/sleep", "600"}),
        tty({"/bin/sleep", "600"}), service({"/bin/sleep", "600"});
    logind.add(seat.pid(), {.id = "2", .seat = "seat0", .type = "wayland"});
    logind.add(ssh.pid(), {.id = "c7", .remote = true});
    logind.add(greeter.pid(), {.id = "c1", .klass = "greeter"});
    logind.add(tty.pid(), {.id = "5"});  // class user, no seat

    agent::LogindSessions sessions;
    auto local = sessions.session_of(seat.pid());
    EXPECT_EQ(local.kind, SessionKind::local);
    EXPECT_EQ(local.id, "2");
    auto remote = sessions.session_of(ssh.pid());
    EXPECT_EQ(remote.kind, SessionKind::remote);
    EXPECT_EQ(remote.id, "c7");
    EXPECT_EQ(sessions.session_of(greeter.pid()).kind, SessionKind::none);
    EXPECT_EQ(sessions.session_of(tty.pid()).kind, SessionKind::local);
    auto none = sessions.session_of(service.pid());
    EXPECT_EQ(none.kind, SessionKind::none);
    EXPECT_EQ(none.id, "");
    EXPECT_EQ(logind.calls(), 5);

    // add_session_facts fills the client's facts from it.
    ClientFacts facts = facts_of(ssh.pid());
    agent::add_session_facts(facts, &sessions);
    EXPECT_EQ(facts.session, SessionKind::remote);
    EXPECT_EQ(facts.session_id, "c7");
    facts = facts_of(seat.pid());
    agent::add_session_facts(facts, &sessions);
    EXPECT_EQ(facts.session, SessionKind::local);
    EXPECT_EQ(facts.session_id, "2");
}

TEST_F(SessionTest, AnSshdAncestorMeansRemoteWhenLogindKnowsNoSession) {
    LogindSessionsStandIn logind(bus_);
    ASSERT_TRUE(logind.ready());
    agent::LogindSessions sessions;
    UnderParent sshd("sshd");
    ClientFacts facts = facts_of(sshd.sleeper());
    ASSERT_FALSE(facts.parents.empty());
    EXPECT_EQ(facts.parents[0].pid, sshd.parent());
    EXPECT_TRUE(facts.parents[0].exe.ends_with("/sshd")) << facts.parents[0].exe;
    agent::add_session_facts(facts, &sessions);
    EXPECT_EQ(facts.session, SessionKind::remote);
    EXPECT_EQ(logind.calls(), 1) << "logind was asked first";

    // logind's word wins when it knows the session.
    logind.add(sshd.sleeper(), {.id = "3", .seat = "seat0"});
    agent::add_session_facts(facts, &sessions);
    EXPECT_EQ(facts.session, SessionKind::local);

    // Another parent's name is no sign of a remote login.
    UnderParent other("shell");
    ClientFacts plain = facts_of(other.sleeper());
    agent::add_session_facts(plain, &sessions);
    EXPECT_EQ(plain.session, SessionKind::none);
}

TEST(SessionFallback, WithoutLogindOnlyTheParentChainCounts) {
    setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus", 1);
    agent::LogindSessions sessions;
    UnderParent sshd("sshd");
    ClientFacts facts = facts_of(sshd.sleeper());
    agent::add_session_facts(facts, &sessions);
    EXPECT_EQ(facts.session, SessionKind::remote);
    EXPECT_EQ(facts.session_id, "");

    UnderParent other("bash");
    ClientFacts plain = facts_of(other.sleeper());
    agent::add_session_facts(plain, &sessions);
    EXPECT_EQ(plain.session, SessionKind::none);
    unsetenv("DBUS_SYSTEM_BUS_ADDRESS");

    // No directory at all: the same.
    ClientFacts again = facts_of(sshd.sleeper());
    agent::add_session_facts(again, nullptr);
    EXPECT_EQ(again.session, SessionKind::remote);
}

TEST(SessionFallback, AnAncestorNamedSshdByCommAlsoCounts) {
    // An sshd whose executable cannot be read (its session process is not dumpable) is known
    // by its comm; a comm can only make a client look remote, never local.
    ClientFacts facts;
    facts.parents = {{100, "?", "bash"}, {90, "?", "sshd"}};
    EXPECT_TRUE(agent::has_sshd_ancestor(facts));
    facts.parents = {{100, "/usr/sbin/sshd-session", "sshd-session"}};
    EXPECT_TRUE(agent::has_sshd_ancestor(facts));
    facts.parents = {{100, "/usr/bin/bash", "bash"}, {90, "/usr/lib/systemd/systemd", "systemd"}};
    EXPECT_FALSE(agent::has_sshd_ancestor(facts));
    facts.parents = {{100, "/usr/bin/notsshd", "notsshd"}};
    EXPECT_FALSE(agent::has_sshd_ancestor(facts));
}

}  // namespace
}  // namespace attache::testing
