// Managed mode's "Sessions" rule (issue 14): a client is at the seat when logind (a stand-in
// on a private bus) says its session is not remote, has a seat, is of class user and is
// active; a policy with `at_seat = false` refuses the others, and the audit names the rule.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "agent/policy/policy.h"
#include "agent/server/peer.h"
#include "agent/workstation/login_sessions.h"
#include "tests/workstation/private_bus.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

using agent::SessionKind;

// A sleep of the test's own, whose pid the stand-in can be told about.
class Sleeper {
  public:
    Sleeper() {
        pid_ = fork();
        if (pid_ == 0) {
            execl("/bin/sleep", "sleep", "600", nullptr);
            _exit(127);
        }
    }
    ~Sleeper() {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
};

class AtSeat : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!bus_.running())
            GTEST_SKIP() << "dbus-daemon did not start (install dbus-daemon)";
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_.address().c_str(), 1);
        ASSERT_TRUE(logind_.ready());
    }
    void TearDown() override { unsetenv("DBUS_SYSTEM_BUS_ADDRESS"); }

    // The client facts of a process in `session`, as the agent fills them.
    agent::ClientFacts facts_in(const StandInSession& session) {
        Sleeper sleeper;
        logind_.add(sleeper.pid(), session);
        agent::ClientFacts facts;
        facts.pid = sleeper.pid();
        agent::add_process_facts(facts);
        agent::add_session_facts(facts, &sessions_);
        return facts;
    }

    PrivateBus bus_;
    LogindSessionsStandIn logind_{bus_};
    agent::LogindSessions sessions_;
};

TEST_F(AtSeat, OnlyTheActiveUserSessionOfASeatIsAtTheSeat) {
    const auto here = facts_in({.id = "2", .seat = "seat0", .type = "wayland", .active = true});
    EXPECT_TRUE(here.at_seat);
    EXPECT_EQ(here.session, SessionKind::local);
    EXPECT_EQ(here.session_id, "2");
    EXPECT_EQ(here.seat, "seat0");
    EXPECT_EQ(here.session_class, "user");
    EXPECT_TRUE(here.session_active);

    // Each condition on its own makes it false.
    const auto background = facts_in({.id = "3", .seat = "seat0", .active = false});
    EXPECT_FALSE(background.at_seat);
    EXPECT_FALSE(background.session_active);
    EXPECT_EQ(background.session, SessionKind::local);
    const auto ssh = facts_in({.id = "c7", .remote = true, .seat = "seat0"});
    EXPECT_FALSE(ssh.at_seat);
    EXPECT_EQ(ssh.session, SessionKind::remote);
    const auto tty = facts_in({.id = "5"});  // class user, active, no seat
    EXPECT_FALSE(tty.at_seat);
    EXPECT_EQ(tty.seat, "");
    for (const char* name : {"greeter", "background", "lock-screen"}) {
        const std::string klass = name;
        // The stand-in finds a session by its id: one id per session.
        const auto other = facts_in({.id = "c-" + klass, .seat = "seat0", .klass = klass});
        EXPECT_FALSE(other.at_seat) << klass;
        EXPECT_EQ(other.session_class, klass);
    }
    // No session at all (a user service, cron).
    Sleeper service;
    agent::ClientFacts none;
    none.pid = service.pid();
    agent::add_session_facts(none, &sessions_);
    EXPECT_FALSE(none.at_seat);
    EXPECT_EQ(none.session, SessionKind::none);
}

TEST_F(AtSeat, APolicyRefusesAClientNotAtTheSeat) {
    auto policy = agent::Policy::parse(
        "[[rule]]\nname = \"not at the holder's seat\"\nat_seat = false\naction = \"deny\"\n"
        "[[rule]]\nname = \"rest\"\naction = \"allow\"\n",
        "managed.toml");
    ASSERT_TRUE(policy) << policy.error().message();
    agent::Context context;
    context.client = facts_in({.id = "4", .seat = "seat0", .active = false});
    auto d = policy->decide({context, agent::OperationKind::sign, {}});
    EXPECT_EQ(d.verdict, agent::Verdict::deny);
    EXPECT_EQ(d.rule, "managed.toml rule 1 'not at the holder's seat'");
    context.client = facts_in({.id = "6", .seat = "seat0", .active = true});
    EXPECT_EQ(policy->decide({context, agent::OperationKind::sign, {}}).verdict,
              agent::Verdict::allow);
}

// A real agent on the private bus: this test's process signs while logind says its session is
// the active one of seat0, and is refused (and audited with the rule) once it is not.
TEST_F(AtSeat, TheAgentRefusesAndAuditsTheRuleOnceTheSessionIsNotActive) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-sign", {.sign = true}}});
    // The CLI that unlocks is in no session: token state comes first.
    agent.start({.policy = "[[rule]]\nname = \"token state\"\n"
                           "operation = [\"unlock\", \"lock\", \"list\"]\naction = \"allow\"\n"
                           "[[rule]]\nname = \"not at the holder's seat\"\nat_seat = false\n"
                           "action = \"deny\"\n"
                           "[[rule]]\nname = \"rest\"\naction = \"allow\"\n"});
    agent.unlock();
    const std::string key = agent.key("ec-sign").id;

    logind_.add(getpid(), {.id = "9", .seat = "seat0", .active = true});
    auto signed_here = sign_with(agent, key);
    EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(signed_here))
        << (error_of(signed_here) ? error_of(signed_here)->message : "") << agent.log();

    logind_.add(getpid(), {.id = "9", .seat = "seat0", .active = false});
    auto refused = sign_with(agent, key);
    ASSERT_NE(error_of(refused), nullptr) << agent.log();
    EXPECT_NE(error_of(refused)->message.find("not at the holder's seat"), std::string::npos)
        << error_of(refused)->message;
    std::string log;
    EXPECT_TRUE(eventually([&] {
        log = agent.log();
        return log.find(
                   "'not at the holder's seat'\" result=refused-by-policy "
                   "stopped_by=client-policy") != std::string::npos;
    })) << log;
}

}  // namespace
}  // namespace attache::testing
