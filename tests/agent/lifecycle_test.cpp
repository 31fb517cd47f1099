// Starting and stopping: sockets, directories, configuration, signals, cards coming and going.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "cli/exit_codes.h"
#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

CommandResult run_agent(const std::vector<std::string>& args) {
    std::vector<std::string> argv{ATTACHE_AGENT_PATH, "--foreground"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
}

TEST(Lifecycle, SecondAgentOnALiveSocketRefusesToStart) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    agent.start();
    auto second = run_agent({"--module", SoftHsm::module_path(), "--socket", agent.socket(),
                             "--config", (agent.dir() / "agent.toml").string()});
    EXPECT_EQ(second.exit_code, 1) << describe(second);
    EXPECT_NE(second.err.find("another attache-agent is already serving"), std::string::npos)
        << describe(second);
    // The first one is unaffected.
    EXPECT_EQ(agent.cli({"status"}).exit_code, 0);
}

TEST(Lifecycle, StaleSocketIsReplacedAndSigtermCleansUp) {
    AgentFixture agent;
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    agent.start();
    const pid_t first = agent.pid();
    kill(first, SIGKILL);  // leaves its socket behind
    agent.stop();
    ASSERT_TRUE(std::filesystem::exists(agent.socket()));
    agent.start();
    EXPECT_EQ(agent.cli({"status"}).exit_code, 0);
    agent.unlock();
    EXPECT_EQ(agent.stop(), 0) << agent.log();
    EXPECT_FALSE(std::filesystem::exists(agent.socket())) << "the socket must be removed";
    EXPECT_NE(agent.log().find("logged out of 1 token"), std::string::npos) << agent.log();
}

TEST(Lifecycle, UnsafeRuntimeDirectoriesAreRefused) {
    TempDir dir;
    const auto open_dir = dir / "world";
    std::filesystem::create_directory(open_dir);
    chmod(open_dir.c_str(), 0777);
    auto r =
        run_agent({"--module", SoftHsm::module_path(), "--socket",
                   (open_dir / "agent.sock").string(), "--config", (dir / "none.toml").string()});
    EXPECT_NE(r.exit_code, 0);

    std::filesystem::create_directory(dir / "real");
    chmod((dir / "real").c_str(), 0700);
    std::filesystem::create_directory_symlink(dir / "real", dir / "link");
    write_file(dir / "empty.toml", "");
    auto link = run_agent({"--module", SoftHsm::module_path(), "--socket",
                           (dir / "link" / "agent.sock").string(), "--config",
                           (dir / "empty.toml").string()});
    EXPECT_EQ(link.exit_code, 1) << describe(link);
    EXPECT_NE(link.err.find("symbolic link"), std::string::npos) << describe(link);

    auto world =
        run_agent({"--module", SoftHsm::module_path(), "--socket",
                   (open_dir / "agent.sock").string(), "--config", (dir / "empty.toml").string()});
    EXPECT_EQ(world.exit_code, 1) << describe(world);
    EXPECT_NE(world.err.find("writable by other users"), std::string::npos) << describe(world);
}

TEST(Lifecycle, ConfigurationErrorsNameFileLineAndKey) {
    TempDir dir;
    struct Case {
        std::string text;
        std::string expected;
    } cases[] = {
        {"modules = [\"/x.so\"]\nbogus_key = 1\n", "agent.toml:2: unknown key 'bogus_key'"},
        {"idle_lock_seconds = \"ten\"\n", "agent.toml:1: 'idle_lock_seconds' must be"},
        {"tokens = \"http://no\"\n", "agent.toml:1: 'tokens'"},
        {"modules = [\n", "agent.toml:"},
    };
    for (const auto& c : cases) {
        write_file(dir / "agent.toml", c.text);
        auto r = run_agent(
            {"--config", (dir / "agent.toml").string(), "--socket", (dir / "agent.sock").string()});
        EXPECT_EQ(r.exit_code, 1) << c.text << describe(r);
        EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.text << describe(r);
    }
}

TEST(Lifecycle, ModuleThatCannotLoadStopsTheStart) {
    TempDir dir;
    write_file(dir / "agent.toml", "");
    chmod(dir.path().c_str(), 0700);
    auto r = run_agent({"--config", (dir / "agent.toml").string(), "--socket",
                        (dir / "agent.sock").string(), "--module", "/nonexistent/module.so"});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_NE(r.err.find("/nonexistent/module.so"), std::string::npos) << describe(r);
    EXPECT_FALSE(std::filesystem::exists(dir / "agent.sock"));
}

#ifdef ATTACHE_FORWARDING_MODULE_PATH
TEST(Lifecycle, RefusesToLoadTheForwardingModule) {
    TempDir dir;
    write_file(dir / "agent.toml", "");
    chmod(dir.path().c_str(), 0700);
    auto r = run_agent({"--config", (dir / "agent.toml").string(), "--socket",
                        (dir / "agent.sock").string(), "--module", ATTACHE_FORWARDING_MODULE_PATH});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_NE(r.err.find("refusing to load"), std::string::npos) << describe(r);
}
#endif

TEST(Lifecycle, AgentNotRunningGivesItsOwnExitCode) {
    TempDir dir;
    auto r = run_command({ATTACHE_CLI_PATH, "keys"}, {},
                         {{"ATTACHE_SOCK", (dir / "nothing.sock").string()}});
    EXPECT_EQ(r.exit_code, cli::kAgentNotRunning) << describe(r);
    EXPECT_NE(r.err.find("attache-agent is not running"), std::string::npos) << describe(r);
}

TEST(Lifecycle, RemovedCardFailsCleanlyAndReinsertionNeedsANewUnlock) {
    AgentFixture agent;
    const CK_SLOT_ID slot =
        agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    agent.start({.fault_token = true});
    agent.unlock();
    const std::string key = agent.key("ec").id;
    ASSERT_EQ(agent.cli({"sign", "--key", key}, "x").exit_code, 0);

    agent.fault().set_absent(slot);
    CommandResult pulled;
    for (int i = 0; i < 100; ++i) {
        pulled = agent.cli({"sign", "--key", key}, "x");
        if (pulled.exit_code != 0)
            break;
        usleep(20'000);
    }
    // The key is known: its card was pulled, which is what the user must hear.
    EXPECT_EQ(pulled.exit_code, cli::kTokenAbsent) << describe(pulled);
    EXPECT_NE(pulled.err.find("the card 'alice'"), std::string::npos) << describe(pulled);
    EXPECT_NE(pulled.err.find("was removed: insert it"), std::string::npos) << describe(pulled);

    agent.fault().set_present(slot);
    const pid_t pid = agent.pid();
    bool back = false;
    for (int i = 0; i < 200 && !back; ++i) {
        auto s = agent.client().call(protocol::StatusRequest{});
        for (const auto& t : std::get<protocol::StatusReply>(*s).tokens)
            back |= t.present;
        if (!back)
            usleep(20'000);
    }
    ASSERT_TRUE(back) << agent.log();
    auto s = agent.client().call(protocol::StatusRequest{});
    EXPECT_EQ(std::get<protocol::StatusReply>(*s).tokens.at(0).lock_reason, "card removed");
    auto locked = agent.cli({"sign", "--key", key}, "x");
    EXPECT_EQ(locked.exit_code, cli::kTokenLocked) << describe(locked);
    agent.unlock();
    EXPECT_EQ(agent.cli({"sign", "--key", key}, "x").exit_code, 0);
    EXPECT_EQ(agent.pid(), pid);
}

}  // namespace
}  // namespace attache::testing
