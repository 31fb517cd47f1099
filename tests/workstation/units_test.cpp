// The systemd side: unit files systemd-analyze accepts, the environment.d snippet, socket
// activation with readiness notification, and what `cmake --install` lays out.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    return read_file(p);
}

// The built unit with ExecStart pointing at the agent just built (systemd-analyze checks
// that the program exists).
std::string unit_for_test(const std::string& name) {
    std::string text = slurp(fs::path(ATTACHE_UNIT_BUILD_DIR) / name);
    return std::regex_replace(text, std::regex("ExecStart=[^ \n]*attache-agent"),
                              std::string("ExecStart=") + ATTACHE_AGENT_PATH);
}

TEST(Units, SystemdAnalyzeVerifiesThemWithoutAWord) {
    if (!fs::exists("/usr/bin/systemd-analyze"))
        GTEST_SKIP() << "systemd-analyze is not installed (package systemd)";
    TempDir dir;
    for (const char* unit : {"attache-agent.service", "attache-agent.socket"})
        write_file(dir / unit, unit_for_test(unit));
    // systemd-analyze --user needs a runtime directory; it exits 0 even on unknown keys, so
    // any output at all is a failure.
    fs::create_directory(dir / "run");
    auto r =
        run_command({"systemd-analyze", "--user", "verify", (dir / "attache-agent.socket").string(),
                     (dir / "attache-agent.service").string()},
                    {}, {{"XDG_RUNTIME_DIR", (dir / "run").string()}});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out + r.err, "") << describe(r);

    // The checker does complain about a broken unit (so its silence above means something).
    write_file(dir / "broken.service", "[Service]\nType=notifyy\nExecStart=/bin/true\n");
    auto broken =
        run_command({"systemd-analyze", "--user", "verify", (dir / "broken.service").string()}, {},
                    {{"XDG_RUNTIME_DIR", (dir / "run").string()}});
    EXPECT_NE(broken.out + broken.err, "") << describe(broken);
}

TEST(Units, ServiceIsNotifyTypeAndSandboxed) {
    const std::string service = slurp(fs::path(ATTACHE_UNIT_BUILD_DIR) / "attache-agent.service");
    for (const char* line :
         {"Type=notify", "NoNewPrivileges=yes", "RestrictAddressFamilies=AF_UNIX", "UMask=0077",
          "LockPersonality=yes", "MemoryDenyWriteExecute=yes"}) {
        EXPECT_NE(service.find(std::string("\n") + line + "\n"), std::string::npos) << line;
    }
    EXPECT_NE(service.find("ExecStart=" ATTACHE_INSTALL_BINDIR "/attache-agent --foreground"),
              std::string::npos)
        << service;
    const std::string socket = slurp(fs::path(ATTACHE_UNIT_BUILD_DIR) / "attache-agent.socket");
    EXPECT_NE(socket.find("ListenStream=%t/attache/agent.sock"), std::string::npos);
    EXPECT_NE(socket.find("ListenStream=%t/attache/ssh.sock"), std::string::npos);
    EXPECT_NE(socket.find("SocketMode=0600"), std::string::npos);
}

TEST(Units, EnvironmentSnippetExportsAttacheSockAndSshAuthSockOnlyWhenEnabled) {
    const fs::path generator =
        "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator";
    if (!fs::exists(generator))
        GTEST_SKIP() << "no environment.d generator (package systemd)";
    TempDir home;
    const auto d = home / ".config/environment.d";
    fs::create_directories(d);
    fs::copy_file(fs::path(ATTACHE_SOURCE_DIR) / "agent/systemd/60-attache.conf",
                  d / "60-attache.conf");
    const std::map<std::string, std::string> env{{"HOME", home.path().string()},
                                                 {"XDG_CONFIG_HOME", (home / ".config").string()},
                                                 {"XDG_RUNTIME_DIR", "/run/user/4242"}};
    auto r = run_command({generator.string()}, {}, env);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_NE(r.out.find("ATTACHE_SOCK=/run/user/4242/attache/agent.sock\n"), std::string::npos)
        << describe(r);
    EXPECT_EQ(r.out.find("SSH_AUTH_SOCK=/run/user/4242/attache"), std::string::npos) << describe(r);

    // The admin (or the user) enables the SSH_AUTH_SOCK snippet.
    fs::copy_file(fs::path(ATTACHE_SOURCE_DIR) / "agent/systemd/61-attache-ssh-auth-sock.conf",
                  d / "61-attache-ssh-auth-sock.conf");
    auto enabled = run_command({generator.string()}, {}, env);
    EXPECT_NE(enabled.out.find("SSH_AUTH_SOCK=/run/user/4242/attache/ssh.sock\n"),
              std::string::npos)
        << describe(enabled);
}

// A listening Unix socket bound at `path`, as systemd's socket unit makes it.
UniqueFd listening_socket(const fs::path& path) {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd.get(), 16), 0);
    return fd;
}

// Reads notification datagrams until one contains `what` (or 10 s pass).
bool notified(int fd, const std::string& what, std::string& all) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < end) {
        char buf[4096];
        const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            all.append(buf, static_cast<size_t>(n));
            all += "\n";
            if (all.find(what) != std::string::npos)
                return true;
            continue;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

TEST(Units, SocketActivationServesThePassedSocketsAndNotifiesReadiness) {
    AgentFixture agent;  // for its SoftHSM2 token and directories
    agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "k", {.sign = true}}});
    const fs::path run = agent.dir() / "run";
    const fs::path native = run / "agent.sock";
    const fs::path ssh = run / "ssh.sock";
    UniqueFd native_fd = listening_socket(native);
    UniqueFd ssh_fd = listening_socket(ssh);
    UniqueFd notify(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string notify_path = (agent.dir() / "notify").string();
    std::strncpy(addr.sun_path, notify_path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(notify.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    write_file(agent.dir() / "agent.toml",
               "modules = [\"" + SoftHsm::module_path() + "\"]\npinentry = \"\"\n");

    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // As systemd does: the sockets from fd 3 on, LISTEN_* naming this process.
        dup2(native_fd.get(), 3);
        dup2(ssh_fd.get(), 4);
        const int log =
            open((agent.dir() / "agent.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(log, 2);
        setenv("LISTEN_FDS", "2", 1);
        setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
        setenv("LISTEN_FDNAMES", "attache:attache", 1);
        setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
        // Not --foreground: a notifying service must not fork.
        execl(ATTACHE_AGENT_PATH, "attache-agent", "--config", (agent.dir() / "agent.toml").c_str(),
              "--socket", native.c_str(), "--ssh-socket", ssh.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    native_fd.reset();  // the agent holds its copies now
    ssh_fd.reset();
    std::string messages;
    EXPECT_TRUE(notified(notify.get(), "READY=1", messages)) << messages << agent.log();
    EXPECT_NE(messages.find("STATUS=serving"), std::string::npos) << messages;
    EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "the agent must not fork away";

    auto status = agent.cli({"status"});
    EXPECT_EQ(status.exit_code, 0) << describe(status) << agent.log();
    auto keys = run_command({"ssh-add", "-l"}, {}, {{"SSH_AUTH_SOCK", ssh.string()}});
    EXPECT_EQ(keys.exit_code, 0) << describe(keys);
    EXPECT_NE(agent.log().find("(sockets from systemd)"), std::string::npos) << agent.log();

    kill(pid, SIGTERM);
    EXPECT_TRUE(notified(notify.get(), "STOPPING=1", messages)) << messages;
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << agent.log();
    // systemd's sockets stay for the next activation.
    EXPECT_TRUE(fs::exists(native));
    EXPECT_TRUE(fs::exists(ssh));
}

TEST(Units, AgentStartedByHandRefusesToReplaceALiveSocket) {
    TempDir dir;
    fs::permissions(dir.path(), fs::perms::owner_all);
    UniqueFd held = listening_socket(dir / "agent.sock");  // systemd's socket unit, say
    write_file(dir / "agent.toml", "");
    auto r = run_command({ATTACHE_AGENT_PATH, "--foreground", "--config",
                          (dir / "agent.toml").string(), "--module", SoftHsm::module_path(),
                          "--socket", (dir / "agent.sock").string()});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_NE(r.err.find("it is live"), std::string::npos) << describe(r);
}

TEST(Units, CmakeInstallLaysOutUnitsSnippetsAndRules) {
    // Into a DESTDIR, and only the workstation component: nothing lands on this machine.
    TempDir destdir;
    auto r = run_command({"cmake", "--install", ATTACHE_BUILD_DIR, "--component", "workstation"},
                         {}, {{"DESTDIR", destdir.path().string()}});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    const fs::path root = destdir.path();
    for (const std::string& f :
         {std::string(ATTACHE_INSTALL_UNIT_DIR) + "/attache-agent.service",
          std::string(ATTACHE_INSTALL_UNIT_DIR) + "/attache-agent.socket",
          std::string(ATTACHE_INSTALL_ENVIRONMENT_D_DIR) + "/60-attache.conf",
          std::string(ATTACHE_INSTALL_DATADIR) +
              "/attache/environment.d/61-attache-ssh-auth-sock.conf",
          std::string(ATTACHE_INSTALL_UDEV_RULES_DIR) + "/69-attache.rules",
          std::string(ATTACHE_INSTALL_DATADIR) + "/attache/managed/68-attache-managed.rules",
          // The agent reads /etc/attache/policy.toml whatever the prefix.
          std::string("/etc/attache/policy.toml")}) {
        EXPECT_TRUE(fs::exists(root / fs::path(f).relative_path())) << f << "\n" << describe(r);
    }
    EXPECT_FALSE(fs::exists(root / fs::path(ATTACHE_INSTALL_ENVIRONMENT_D_DIR).relative_path() /
                            "61-attache-ssh-auth-sock.conf"))
        << "SSH_AUTH_SOCK is not taken unless an admin enables it";
}

}  // namespace
}  // namespace attache::testing
