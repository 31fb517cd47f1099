// What the agent reads about a client from /proc: the executable, the start time, the parent
// chain and the systemd unit.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "agent/server/peer.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/support/temp_dir.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

using agent::ClientFacts;

std::string self_exe() {
    return std::filesystem::canonical("/proc/self/exe").string();
}

// A stat line as the kernel writes it, with `comm` in parentheses (fields 3 to 52).
std::string stat_line(const std::string& comm, pid_t ppid, uint64_t start) {
    std::string s = "4242 (" + comm + ") S " + std::to_string(ppid) + " 4242 4242 0 -1";
    for (int field = 9; field <= 21; ++field)
        s += " " + std::to_string(field);
    s += " " + std::to_string(start);
    for (int field = 23; field <= 52; ++field)
        s += " 0";
    return s + "\n";
}

TEST(ProcStat, FieldsAreCountedAfterTheLastParenthesis) {
    for (const std::string comm : {"bash", "a) (b", ") 1 2 3 (", "x y", "((", "))"}) {
        auto s = agent::parse_proc_stat(stat_line(comm, 77, 123456789));
        ASSERT_TRUE(s) << comm;
        EXPECT_EQ(s->ppid, 77) << comm;
        EXPECT_EQ(s->start_time, 123456789u) << comm;
    }
    EXPECT_FALSE(agent::parse_proc_stat("4242 (bash S 1 2"));
    EXPECT_FALSE(agent::parse_proc_stat("4242 (bash) S 1 2 3"));
    EXPECT_FALSE(agent::parse_proc_stat(stat_line("x", 1, 5).replace(11, 1, "?")))
        << "a field that is not a number";
}

TEST(ProcStat, UnitFromCgroup) {
    EXPECT_EQ(agent::unit_of_cgroup("0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
                                    "app-org.mozilla.Thunderbird-4242.scope\n"),
              "app-org.mozilla.Thunderbird-4242.scope");
    EXPECT_EQ(agent::unit_of_cgroup("0::/user.slice/user-1000.slice/session-3.scope\n"),
              "session-3.scope");
    EXPECT_EQ(agent::unit_of_cgroup("0::/system.slice/cron.service\n"), "cron.service");
    EXPECT_EQ(agent::unit_of_cgroup("0::/\n"), "");
    EXPECT_EQ(agent::unit_of_cgroup("0::/user.slice/user-1000.slice/user@1000.service/app.slice\n"),
              "user@1000.service");
    // cgroup v1: systemd's hierarchy, not another controller's.
    EXPECT_EQ(agent::unit_of_cgroup("12:cpu,cpuacct:/other.service\n"
                                    "1:name=systemd:/system.slice/sshd.service\n"),
              "sshd.service");
}

// A child that connects to `path` with `comm` as its name and waits for the socket to close.
pid_t connecting_child(const std::filesystem::path& path, const char* comm) {
    const pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_NAME, comm);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            _exit(1);
        char c;
        (void)!read(fd, &c, 1);
        _exit(0);
    }
    return pid;
}

TEST(ClientFacts, PeerOfAProcessWhoseNameHasParenthesesAndSpaces) {
    TempDir dir("attache-peer");
    const auto path = dir / "s";
    UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(listener.get(), 1), 0);

    const pid_t child = connecting_child(path, "x) (y 7 z");
    ASSERT_GT(child, 0);
    UniqueFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(conn.valid());
    // The name is set before connect(), so it is there now.
    ASSERT_EQ(read_file("/proc/" + std::to_string(child) + "/comm"), "x) (y 7 z\n");
    auto facts = agent::peer_of(conn.get());
    conn.reset();
    int status = 0;
    waitpid(child, &status, 0);

    ASSERT_TRUE(facts) << facts.error().message();
    EXPECT_EQ(facts->pid, child);
    EXPECT_EQ(facts->uid, getuid());
    EXPECT_EQ(facts->exe, self_exe()) << "a forked child runs the test binary";
    ASSERT_FALSE(facts->parents.empty());
    EXPECT_EQ(facts->parents[0].pid, getpid()) << "ppid read from the right field";
    EXPECT_EQ(facts->parents[0].exe, self_exe());
    // Field 22 read from the right place: the child started no earlier than this process.
    auto mine = agent::parse_proc_stat(read_file("/proc/self/stat"));
    ASSERT_TRUE(mine);
    EXPECT_GE(facts->start_time, mine->start_time);
    EXPECT_GT(facts->start_time, 0u);
    for (const auto& p : facts->parents)
        EXPECT_NE(p.pid, 1) << "pid 1 is never part of the chain";
    EXPECT_LE(facts->parents.size(), agent::kMaxParentChain);
}

TEST(ClientFacts, ADeletedExecutableKeepsItsPath) {
    TempDir dir("attache-peer");
    const auto copy = dir / "sleeper";
    std::filesystem::copy_file("/bin/sleep", copy);
    const pid_t child = fork();
    if (child == 0) {
        execl(copy.c_str(), "sleeper", "600", static_cast<char*>(nullptr));
        _exit(127);
    }
    ASSERT_GT(child, 0);
    ASSERT_TRUE(eventually([&] {
        std::error_code ec;
        return std::filesystem::read_symlink("/proc/" + std::to_string(child) + "/exe", ec) == copy;
    }));
    std::filesystem::remove(copy);
    ClientFacts facts;
    facts.pid = child;
    agent::add_process_facts(facts);
    kill(child, SIGTERM);
    waitpid(child, nullptr, 0);
    EXPECT_EQ(facts.exe, copy.string());
    EXPECT_EQ(facts.parents.at(0).pid, getpid());
}

TEST(ClientFacts, AProcessThatIsGoneHasNoFacts) {
    const pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, nullptr, 0);
    ClientFacts facts;
    facts.pid = child;
    agent::add_process_facts(facts);
    EXPECT_EQ(facts.exe, "?");
    EXPECT_TRUE(facts.parents.empty());
    EXPECT_EQ(facts.start_time, 0u);
}

}  // namespace
}  // namespace attache::testing
