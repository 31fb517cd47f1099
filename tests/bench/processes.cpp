#include "tests/bench/processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace attache::bench {

namespace {

constexpr int kMaxChildren = 64;
std::atomic<pid_t> g_children[kMaxChildren];

void on_interrupt(int sig) {
    for (auto& c : g_children) {
        const pid_t pid = c.load();
        if (pid > 0)
            kill(pid, SIGTERM);
    }
    _exit(128 + sig);
}

}  // namespace

void register_child(pid_t pid) {
    for (auto& c : g_children) {
        pid_t empty = 0;
        if (c.compare_exchange_strong(empty, pid))
            return;
    }
}

void unregister_child(pid_t pid) {
    for (auto& c : g_children) {
        pid_t expected = pid;
        if (c.compare_exchange_strong(expected, 0))
            return;
    }
}

void install_interrupt_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
        sigaction(sig, &sa, nullptr);
}

void die_with_parent(pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
}

Child::Child(Child&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}

Child& Child::operator=(Child&& other) noexcept {
    if (this != &other) {
        stop();
        pid_ = std::exchange(other.pid_, -1);
    }
    return *this;
}

Result<Child> Child::spawn(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env,
                           const std::string& log_path) {
    // Everything exec needs is built before fork: the child only calls async-signal-safe
    // functions.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
        const std::string entry = *e;
        const std::string name = entry.substr(0, entry.find('='));
        if (!env.contains(name))
            env_strings.push_back(entry);
    }
    for (const auto& [k, v] : env)
        env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& s : env_strings)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& a : argv_copy)
        args.push_back(a.data());
    args.push_back(nullptr);
    int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0)
        return Error("cannot open " + log_path + ": " + std::strerror(errno));
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        die_with_parent(parent);
        dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        execvpe(args[0], args.data(), envp.data());
        _exit(127);
    }
    close(log_fd);
    close(null_fd);
    if (pid < 0)
        return Error(std::string("fork: ") + std::strerror(errno));
    register_child(pid);
    return Child(pid);
}

bool Child::running() {
    if (pid_ <= 0)
        return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        unregister_child(pid_);
        pid_ = -1;
        return false;
    }
    return true;
}

int Child::stop(int grace_ms) {
    if (pid_ <= 0)
        return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    for (;;) {
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_)
            break;
        if (r < 0 && errno != EINTR) {
            unregister_child(pid_);
            pid_ = -1;
            return -1;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            kill(pid_, SIGKILL);
            while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    unregister_child(pid_);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

long proc_field_kib(const std::string& file, const std::string& field) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(field + ":")) {
            std::istringstream ss(line.substr(field.size() + 1));
            long kib = -1;
            ss >> kib;
            return kib;
        }
    }
    return -1;
}

}  // namespace

long proc_status_kib(pid_t pid, const std::string& field) {
    return proc_field_kib("/proc/" + std::to_string(pid) + "/status", field);
}

long proc_rollup_kib(pid_t pid, const std::string& field) {
    return proc_field_kib("/proc/" + std::to_string(pid) + "/smaps_rollup", field);
}

double process_tree_cpu_us(pid_t root) {
    const long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        return -1;
    const std::vector<testing::ProcStat> all = testing::all_processes();
    std::vector<pid_t> tree{root};
    unsigned long long ticks = 0;
    bool found = false;
    for (size_t i = 0; i < tree.size(); ++i) {
        for (const testing::ProcStat& p : all) {
            if (p.pid == tree[i]) {
                ticks += p.cpu_ticks;
                found = true;
            } else if (p.ppid == tree[i]) {
                tree.push_back(p.pid);
            }
        }
    }
    return found ? static_cast<double>(ticks) * 1e6 / static_cast<double>(hz) : -1;
}

bool wait_for_path(const std::string& path, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (std::filesystem::exists(path))
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::filesystem::exists(path);
}

}  // namespace attache::bench
