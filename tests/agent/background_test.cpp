// The agent started by hand, as ssh-agent is: `eval "$(attache-agent)"` returns while the agent
// serves in the background and logs to its file; `attache-agent -k` stops it. Each shell runs the
// output itself.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

namespace fs = std::filesystem;

// Bounds the wait for a command that should return at once (a hang is the failure looked for).
constexpr int kCommandBoundMs = 60'000;

// Gone, or a zombie its new parent has not reaped yet.
bool exited(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t paren = stat.rfind(')');
    return paren == std::string::npos || stat.substr(paren + 2, 1) == "Z";
}

bool have(const std::string& program) {
    return run_command({"sh", "-c", "command -v " + program}).exit_code == 0;
}

class BackgroundTest : public ::testing::Test {
  protected:
    void SetUp() override {
        agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
        write_file(agent_.dir() / "agent.toml",
                   "modules = [\"" + SoftHsm::module_path() + "\"]\npinentry = \"\"\n");
        write_file(agent_.dir() / "admin.toml", "");
    }

    void TearDown() override {
        // An agent the test could not stop (the old code hung): ask it for its pid, end it.
        if (!fs::exists(socket()))
            return;
        auto client = protocol::Client::connect(socket(), "cleanup");
        if (!client)
            return;
        auto status = client->call(protocol::StatusRequest{});
        if (status) {
            if (auto* s = std::get_if<protocol::StatusReply>(&*status))
                kill(static_cast<pid_t>(s->pid), SIGKILL);
        }
    }

    std::string socket() const { return agent_.socket(); }
    std::string ssh_socket() const { return (agent_.dir() / "run/ssh.sock").string(); }
    fs::path state_home() const { return agent_.dir() / "state"; }
    fs::path log_file() const { return state_home() / "attache/agent.log"; }

    // The agent's command line, quoted for sh.
    std::string agent_command(const std::string& flags = {}) const {
        return std::string(ATTACHE_AGENT_PATH) + " " + flags + " --config '" +
               (agent_.dir() / "agent.toml").string() + "' --admin-config '" +
               (agent_.dir() / "admin.toml").string() + "' --socket '" + socket() +
               "' --ssh-socket '" + ssh_socket() + "'";
    }

    std::map<std::string, std::string> env() const {
        return {{"HOME", agent_.dir().path().string()}, {"XDG_STATE_HOME", state_home().string()}};
    }

    // Runs `script` with `shell -c`, bounded.
    CommandResult shell(const std::string& shell, const std::string& script,
                        std::map<std::string, std::string> extra = {}) {
        auto e = env();
        e.insert(extra.begin(), extra.end());
        return run_command_within(kCommandBoundMs, {shell, "-c", script}, e);
    }

    std::string expected_stop_output(pid_t pid, bool ssh) {
        return std::string("unset ATTACHE_SOCK;\n") + (ssh ? "unset SSH_AUTH_SOCK;\n" : "") +
               "echo Agent pid " + std::to_string(pid) + " killed;\n";
    }

    // The shell returned (the agent did not keep its output open), and the commands the agent
    // printed set both variables (the script echoes "done $ATTACHE_SOCK $SSH_AUTH_SOCK").
    ::testing::AssertionResult returned_with_variables_set(const CommandResult& r) {
        if (r.timed_out)
            return ::testing::AssertionFailure() << "attache-agent did not return\n" << describe(r);
        if (r.exit_code != 0 ||
            r.out.find("done " + socket() + " " + ssh_socket()) == std::string::npos)
            return ::testing::AssertionFailure() << describe(r);
        return ::testing::AssertionSuccess();
    }

    pid_t agent_pid() {
        auto status = protocol::Client::connect(socket(), "test")->call(protocol::StatusRequest{});
        return static_cast<pid_t>(std::get<protocol::StatusReply>(*status).pid);
    }

    AgentFixture agent_;
};

TEST_F(BackgroundTest, EvalReturnsWhileTheAgentServesAndKillStopsIt) {
    auto started = shell(
        "sh", "eval \"$(" + agent_command() + ")\"; echo \"done $ATTACHE_SOCK $SSH_AUTH_SOCK\"");
    ASSERT_TRUE(returned_with_variables_set(started));
    EXPECT_NE(started.out.find("Agent pid "), std::string::npos) << describe(started);

    // The agent still serves, to another process.
    auto status = agent_.cli({"status"});
    EXPECT_EQ(status.exit_code, 0) << describe(status);
    const pid_t pid = agent_pid();
    EXPECT_NE(started.out.find("Agent pid " + std::to_string(pid)), std::string::npos);

    // -k finds it through ATTACHE_SOCK, stops it, and the variables go.
    auto stopped = shell("sh",
                         "eval \"$(" + std::string(ATTACHE_AGENT_PATH) +
                             " -k)\"; echo \"[${ATTACHE_SOCK-unset}] [${SSH_AUTH_SOCK-unset}]\"",
                         {{"ATTACHE_SOCK", socket()}, {"SSH_AUTH_SOCK", ssh_socket()}});
    ASSERT_FALSE(stopped.timed_out) << describe(stopped);
    EXPECT_EQ(stopped.exit_code, 0) << describe(stopped);
    EXPECT_EQ(stopped.out, "Agent pid " + std::to_string(pid) + " killed\n[unset] [unset]\n")
        << describe(stopped);
    EXPECT_FALSE(fs::exists(socket())) << "the socket must be gone when -k returns";
    EXPECT_FALSE(fs::exists(ssh_socket()));
    EXPECT_TRUE(exited(pid));
}

TEST_F(BackgroundTest, KillPrintsTheUnsetLines) {
    auto started = shell("sh", agent_command() + " > /dev/null");
    ASSERT_EQ(started.exit_code, 0) << describe(started);
    const pid_t pid = agent_pid();
    // SSH_AUTH_SOCK names another agent's socket: it stays.
    auto stopped = run_command_within(kCommandBoundMs, {ATTACHE_AGENT_PATH, "-k"},
                                      {{"ATTACHE_SOCK", socket()}, {"SSH_AUTH_SOCK", "/other"}});
    EXPECT_EQ(stopped.exit_code, 0) << describe(stopped);
    EXPECT_EQ(stopped.out, expected_stop_output(pid, false));
    auto again = run_command_within(kCommandBoundMs, {ATTACHE_AGENT_PATH, "-k"},
                                    {{"ATTACHE_SOCK", socket()}});
    EXPECT_EQ(again.exit_code, 1) << describe(again);
    EXPECT_NE(again.err.find("not running"), std::string::npos) << describe(again);
}

TEST_F(BackgroundTest, CshOutputParses) {
    if (!have("tcsh"))
        GTEST_SKIP() << "tcsh is not installed (scripts/install-deps.sh installs it)";
    auto started = shell(
        "tcsh", "eval `" + agent_command("-c") + "`; echo \"done $ATTACHE_SOCK $SSH_AUTH_SOCK\"");
    ASSERT_TRUE(returned_with_variables_set(started));
    auto stopped = shell("tcsh",
                         "eval `" + std::string(ATTACHE_AGENT_PATH) +
                             " -k -c`; if (! $?ATTACHE_SOCK && ! $?SSH_AUTH_SOCK) echo gone",
                         {{"ATTACHE_SOCK", socket()}, {"SSH_AUTH_SOCK", ssh_socket()}});
    EXPECT_EQ(stopped.exit_code, 0) << describe(stopped);
    EXPECT_NE(stopped.out.find("gone"), std::string::npos) << describe(stopped);
    EXPECT_FALSE(fs::exists(socket()));
}

TEST_F(BackgroundTest, FishOutputParses) {
    if (!have("fish"))
        GTEST_SKIP() << "fish is not installed (scripts/install-deps.sh installs it)";
    auto started = shell(
        "fish", agent_command("--fish") + " | source; echo \"done $ATTACHE_SOCK $SSH_AUTH_SOCK\"");
    ASSERT_TRUE(returned_with_variables_set(started));
    auto stopped = shell("fish",
                         std::string(ATTACHE_AGENT_PATH) +
                             " -k --fish | source; not set -q ATTACHE_SOCK; and not set -q "
                             "SSH_AUTH_SOCK; and echo gone",
                         {{"ATTACHE_SOCK", socket()}, {"SSH_AUTH_SOCK", ssh_socket()}});
    EXPECT_EQ(stopped.exit_code, 0) << describe(stopped);
    EXPECT_NE(stopped.out.find("gone"), std::string::npos) << describe(stopped);
    EXPECT_FALSE(fs::exists(socket()));
}

TEST_F(BackgroundTest, TheLogFileGetsTheAgentsLines) {
    if (fs::exists("/run/systemd/journal/socket"))
        GTEST_SKIP() << "a journal runs here: the agent logs there, not to its file";
    auto started = shell("sh", agent_command() + " > /dev/null");
    ASSERT_EQ(started.exit_code, 0) << describe(started);
    const pid_t pid = agent_pid();
    EXPECT_EQ(agent_.cli({"status"}).exit_code, 0);
    kill(pid, SIGTERM);
    for (int i = 0; i < 500 && fs::exists(socket()); ++i)
        usleep(20'000);
    struct stat dir {};
    struct stat file {};
    ASSERT_EQ(stat(log_file().parent_path().c_str(), &dir), 0);
    ASSERT_EQ(stat(log_file().c_str(), &file), 0);
    EXPECT_EQ(dir.st_mode & 0777, 0700u);
    EXPECT_EQ(file.st_mode & 0777, 0600u);
    const std::string log = read_file(log_file());
    EXPECT_NE(log.find("attache-agent[" + std::to_string(pid) + "]: info: attache-agent"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("running in the background, logging to " + log_file().string()),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("shutting down"), std::string::npos) << log;
}

TEST_F(BackgroundTest, ASymbolicLinkForTheLogFileIsRefused) {
    fs::create_directories(log_file().parent_path());
    fs::permissions(log_file().parent_path(), fs::perms::owner_all);
    fs::create_symlink(agent_.dir() / "elsewhere", log_file());
    auto started = shell("sh", agent_command());
    EXPECT_FALSE(started.timed_out) << describe(started);
    EXPECT_EQ(started.exit_code, 1) << describe(started);
    EXPECT_NE(started.err.find("symbolic link"), std::string::npos) << describe(started);
    EXPECT_FALSE(fs::exists(agent_.dir() / "elsewhere"));
    EXPECT_FALSE(protocol::Client::connect(socket(), "test").has_value());
}

TEST_F(BackgroundTest, AFailedStartSaysWhyOnTheTerminal) {
    auto started = shell("sh", agent_command("--module /nonexistent/module.so"));
    EXPECT_FALSE(started.timed_out) << describe(started);
    EXPECT_EQ(started.exit_code, 1) << describe(started);
    EXPECT_NE(started.err.find("/nonexistent/module.so"), std::string::npos) << describe(started);
    EXPECT_EQ(started.out, "");
}

}  // namespace
}  // namespace attache::testing
