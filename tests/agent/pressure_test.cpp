// Under pressure the agent fails closed for the connection at hand and keeps serving the user:
// a process hoarding connections, a file descriptor limit reached, no thread to be had, a
// module failing for want of descriptors.

#include <dirent.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "agent/server/server.h"
#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/agent_protocol/stream_io.h"
#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

using faulttoken::Fn;
using std::chrono_literals::operator""ms;

// True when the agent answers the handshake on `fd` within `timeout_ms` (it answers at once, or
// closes the connection at once when it refuses it); false when it closed the connection.
bool answers_hello(int fd, int timeout_ms = 20'000) {
    if (!stream::write_all(fd, protocol::encode_request(1, protocol::HelloRequest{})))
        return false;
    auto body = stream::read_frame(fd, timeout_ms, timeout_ms);
    if (!body)
        return false;
    auto frame = protocol::decode_reply(*body);
    return frame && std::holds_alternative<protocol::HelloReply>(frame->reply);
}

// CPU time (user + system) the process used so far, in clock ticks.
long cpu_ticks(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    long utime = 0;
    long stime = 0;
    for (int i = 3; fields >> field; ++i) {  // field 3 is the state
        if (i == 14)
            utime = std::stol(field);
        if (i == 15) {
            stime = std::stol(field);
            break;
        }
    }
    return utime + stime;
}

// Share of one core the process used over `interval`. On a loaded machine a spinning process
// gets only its share of the CPUs, so this bounds the harm, and agent_spins() finds the spin.
double cpu_share(pid_t pid, std::chrono::milliseconds interval) {
    const long before = cpu_ticks(pid);
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(interval);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return static_cast<double>(cpu_ticks(pid) - before) / sysconf(_SC_CLK_TCK) / seconds;
}

// Whether the agent's accept loop (its main thread) busy-loops: sampled every 10 ms for a
// second, a thread waiting in poll() is asleep (S); a spinning one is running or runnable (R)
// nearly always, however loaded the machine is.
bool agent_spins(pid_t pid) {
    const std::string path =
        "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/stat";
    int running = 0;
    constexpr int kSamples = 100;
    for (int i = 0; i < kSamples; ++i) {
        std::ifstream in(path);
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const size_t paren = stat.rfind(')');
        if (paren != std::string::npos && stat.compare(paren + 2, 1, "R") == 0)
            ++running;
        std::this_thread::sleep_for(10ms);
    }
    return running > kSamples / 2;
}

// The lowest descriptor number the process has not open; nullopt when /proc/PID/fd cannot be
// read (the agent is not dumpable: only root reads it).
std::optional<int> lowest_free_fd(pid_t pid) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(dir.c_str());
    if (d == nullptr)
        return std::nullopt;
    std::set<int> open;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] != '.')
            open.insert(std::stoi(e->d_name));
    }
    closedir(d);
    int fd = 0;
    while (open.count(fd))
        ++fd;
    return fd;
}

// prlimit() on another process, from a child of that process's uid: only the same uid may
// change its limits without CAP_SYS_RESOURCE, which a container's root may lack.
bool prlimit_as(uid_t uid, pid_t pid, __rlimit_resource resource, const rlimit* set, rlimit* old) {
    if (uid == getuid())
        return prlimit(pid, resource, set, old) == 0;
    int report[2];
    if (pipe(report) != 0)
        return false;
    const pid_t child = fork();
    if (child == 0) {
        rlimit got{};
        const bool ok = setgid(uid) == 0 && setuid(uid) == 0 &&
                        prlimit(pid, resource, set, &got) == 0 &&
                        write(report[1], &got, sizeof got) == sizeof got;
        _exit(ok ? 0 : 1);
    }
    close(report[1]);
    rlimit got{};
    const bool ok = read(report[0], &got, sizeof got) == sizeof got;
    close(report[0]);
    int status = 0;
    waitpid(child, &status, 0);
    if (old != nullptr)
        *old = got;
    return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Sets the soft limit of `resource` of the agent (of uid `uid`); returns the old limits.
rlimit set_soft_limit(pid_t pid, __rlimit_resource resource, rlim_t soft, uid_t uid = getuid()) {
    rlimit old{};
    EXPECT_TRUE(prlimit_as(uid, pid, resource, nullptr, &old)) << std::strerror(errno);
    rlimit lowered{soft, old.rlim_max};
    EXPECT_TRUE(prlimit_as(uid, pid, resource, &lowered, nullptr)) << std::strerror(errno);
    return old;
}

void restore_limit(pid_t pid, __rlimit_resource resource, const rlimit& old, uid_t uid = getuid()) {
    EXPECT_TRUE(prlimit_as(uid, pid, resource, &old, nullptr));
}

class PressureTest : public ::testing::Test {
  protected:
    void SetUp() override {
        slot_ = agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    }

    void start(const AgentOptions& options = {}) {
        agent_.start(options);
        if (!options.run_as) {
            agent_.unlock();
            key_ = agent_.key("ec").id;
        }
    }

    // A signature through the CLI: another process, with a connection of its own.
    CommandResult sign() { return agent_.cli({"sign", "--key", key_}, "x"); }

    protocol::TokenStatus token_status() {
        auto reply = agent_.client().call(protocol::StatusRequest{});
        EXPECT_TRUE(reply);
        const auto& tokens = std::get<protocol::StatusReply>(*reply).tokens;
        EXPECT_EQ(tokens.size(), 1u);
        return tokens.empty() ? protocol::TokenStatus{} : tokens.front();
    }

    // The agent waits instead of spinning, and uses little CPU, in the state `state`.
    void expect_quiet(const std::string& state) {
        EXPECT_FALSE(agent_spins(agent_.pid())) << "the accept loop spins " << state;
        const double share = cpu_share(agent_.pid(), 1000ms);
        EXPECT_LT(share, 0.5) << "the agent burns CPU " << state;
        std::printf("agent CPU %s: %.1f %% of a core\n", state.c_str(), share * 100);
    }

    // The token survived the pressure: present, still unlocked, and a signature works.
    void expect_token_served() {
        const auto token = token_status();
        EXPECT_TRUE(token.present) << "pressure is no card removal\n" << agent_.log();
        EXPECT_TRUE(token.unlocked) << agent_.log();
        auto signed_ = sign();
        EXPECT_EQ(signed_.exit_code, 0) << describe(signed_) << agent_.log();
    }

    AgentFixture agent_;
    CK_SLOT_ID slot_ = 0;
    std::string key_;
};

TEST_F(PressureTest, OneProcessHoardingConnectionsLeavesOthersServed) {
    start();
    std::vector<UniqueFd> held;
    for (int i = 0; i < 300; ++i) {
        auto fd = raw_connect(agent_.socket());
        if (fd.valid())
            held.push_back(std::move(fd));
    }
    size_t served = 0;
    for (auto& fd : held)
        served += answers_hello(fd.get()) ? 1 : 0;
    // (The connection of the unlock may not be closed on the agent's side yet.)
    EXPECT_LE(served, agent::kMaxConnectionsPerProcess) << agent_.log();
    EXPECT_GE(served, agent::kMaxConnectionsPerProcess - 1) << agent_.log();
    // Another process is served at once, while this one still holds its connections.
    auto signed_ = sign();
    EXPECT_EQ(signed_.exit_code, 0) << describe(signed_) << agent_.log();
    EXPECT_NE(agent_.log().find("this process already holds 64 connections"), std::string::npos)
        << agent_.log();
}

TEST_F(PressureTest, ConnectionsStopShortOfTheFileDescriptorLimit) {
    start();
    const rlimit old = set_soft_limit(agent_.pid(), RLIMIT_NOFILE, 40);
    std::vector<UniqueFd> held;
    size_t served = 0;
    int refused_in_a_row = 0;
    for (int i = 0; i < 60 && refused_in_a_row < 3; ++i) {
        auto fd = raw_connect(agent_.socket());
        ASSERT_TRUE(fd.valid());
        const bool answered = answers_hello(fd.get(), 5'000);
        served += answered ? 1 : 0;
        refused_in_a_row = answered ? 0 : refused_in_a_row + 1;
        held.push_back(std::move(fd));
    }
    EXPECT_GT(served, 0u);
    EXPECT_LT(served, 40u - agent::kFdHeadroom);
    // A few more wait in the queue: the agent must shed them, not spin on them.
    for (int i = 0; i < 5; ++i)
        held.push_back(raw_connect(agent_.socket()));
    expect_quiet("at the descriptor limit");
    held.clear();
    restore_limit(agent_.pid(), RLIMIT_NOFILE, old);
    // The monitor kept polling the token meanwhile (every 100 ms); it is still there.
    expect_token_served();
    EXPECT_NE(agent_.log().find("near its file descriptor limit"), std::string::npos)
        << agent_.log();
}

TEST_F(PressureTest, NoDescriptorLeftNeitherSpinsNorRemovesTheToken) {
    start();
    std::vector<UniqueFd> held;
    for (int i = 0; i < 4; ++i) {
        held.push_back(raw_connect(agent_.socket()));
        ASSERT_TRUE(answers_hello(held.back().get()));
    }
    const auto lowest = lowest_free_fd(agent_.pid());
    if (!lowest)
        GTEST_SKIP() << "needs root to read the agent's /proc/PID/fd";
    // Every descriptor below the limit is in use: each accept() and each file SoftHSM2 opens
    // in the monitor's calls fails with EMFILE.
    const rlimit old = set_soft_limit(agent_.pid(), RLIMIT_NOFILE, static_cast<rlim_t>(*lowest));
    std::vector<UniqueFd> pending;
    for (int i = 0; i < 5; ++i)
        pending.push_back(raw_connect(agent_.socket()));
    expect_quiet("with no descriptor left");
    for (auto& fd : pending)
        EXPECT_TRUE(closed_by_agent(fd.get())) << "a connection it cannot serve is closed";
    restore_limit(agent_.pid(), RLIMIT_NOFILE, old);
    held.clear();
    pending.clear();
    expect_token_served();
    EXPECT_NE(agent_.log().find("no file descriptor left"), std::string::npos) << agent_.log();
}

TEST_F(PressureTest, ModuleErrorsThatDoNotMeanRemovalKeepTheToken) {
    start({.fault_token = true});
    agent_.fault().reset_counts();
    agent_.fault().fail(Fn::C_GetTokenInfo, CKR_GENERAL_ERROR);
    // Several monitor polls (every 100 ms) see the failure.
    for (int i = 0; i < 200 && agent_.fault().count(Fn::C_GetTokenInfo) < 3; ++i)
        std::this_thread::sleep_for(20ms);
    ASSERT_GE(agent_.fault().count(Fn::C_GetTokenInfo), 3u);
    agent_.fault().clear_rules();
    const auto token = token_status();
    EXPECT_TRUE(token.present && token.unlocked) << agent_.log();
    auto signed_ = sign();
    EXPECT_EQ(signed_.exit_code, 0) << describe(signed_) << agent_.log();

    // A CK_RV that does mean the card went away still removes it.
    agent_.fault().fail(Fn::C_GetTokenInfo, CKR_TOKEN_NOT_PRESENT);
    bool present = true;
    for (int i = 0; i < 200 && present; ++i) {
        present = token_status().present;
        if (present)
            std::this_thread::sleep_for(20ms);
    }
    EXPECT_FALSE(present) << agent_.log();
}

TEST_F(PressureTest, NoThreadForAConnectionRefusesItAndTheAgentGoesOn) {
    if (getuid() != 0)
        GTEST_SKIP() << "needs root: RLIMIT_NPROC binds only an unprivileged agent (run as nobody)";
    const passwd* pw = getpwnam("nobody");
    if (pw == nullptr)
        GTEST_SKIP() << "no user 'nobody'";
    start({.extra_config = "allow_root = true", .run_as = pw->pw_uid});
    bool up = false;
    for (int i = 0; i < 200 && !up; ++i) {
        up = protocol::Client::connect(agent_.socket(), "test").has_value();
        if (!up)
            std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(up) << agent_.log();
    agent_.unlock();
    key_ = agent_.key("ec").id;
    // Every process and thread of uid nobody counts against the limit: none can start.
    const rlimit old = set_soft_limit(agent_.pid(), RLIMIT_NPROC, 1, pw->pw_uid);
    for (int i = 0; i < 5; ++i) {
        auto fd = raw_connect(agent_.socket());
        ASSERT_TRUE(fd.valid());
        EXPECT_FALSE(answers_hello(fd.get()));
    }
    int status = 0;
    ASSERT_EQ(waitpid(agent_.pid(), &status, WNOHANG), 0) << "the agent died\n" << agent_.log();
    restore_limit(agent_.pid(), RLIMIT_NPROC, old, pw->pw_uid);
    auto signed_ = sign();
    EXPECT_EQ(signed_.exit_code, 0) << describe(signed_) << agent_.log();
    EXPECT_NE(agent_.log().find("cannot start a thread"), std::string::npos) << agent_.log();
}

}  // namespace
}  // namespace attache::testing
