#include "tests/bench/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "tests/bench/clients.h"
#include "tests/bench/processes.h"

namespace attache::bench {
namespace {

// How long clients may take to open (connect, log in, first checked operation), and how long
// after the planned end a run may take before it is declared stuck.
constexpr int kOpenTimeoutMs = 60'000;
constexpr int64_t kOverrunNs = 120'000'000'000;
// Start a little after the last client is ready, so that every one of them is waiting.
constexpr int64_t kStartDelayNs = 20'000'000;

constexpr int kReplyFd = 3;
constexpr int kCommandFd = 4;

struct StartMessage {
    int64_t start_ns;
    int64_t end_ns;
    uint64_t max_ops;
};

struct ResultHeader {
    uint64_t count;
    int64_t last_end_ns;
    uint32_t error_size;
};

struct LoopResult {
    std::vector<uint64_t> latencies_ns;
    int64_t last_end_ns = 0;
    std::string error;
};

int64_t start_instant(const RunLimits& limits) {
    return limits.start_at_ns > 0 ? limits.start_at_ns : monotonic_ns() + kStartDelayNs;
}

LoopResult timed_loop(Client& client, const StartMessage& start) {
    LoopResult r;
    const double seconds = static_cast<double>(start.end_ns - start.start_ns) / 1e9;
    r.latencies_ns.reserve(static_cast<size_t>(
        std::min<double>(static_cast<double>(start.max_ops), seconds * 30'000 + 1024)));
    sleep_until(start.start_ns);
    r.last_end_ns = start.start_ns;
    for (uint64_t n = 0; n < start.max_ops; ++n) {
        const int64_t t0 = monotonic_ns();
        auto result = client.op();
        const int64_t t1 = monotonic_ns();
        if (!result) {
            r.error = result.error().message();
            break;
        }
        r.latencies_ns.push_back(static_cast<uint64_t>(t1 - t0));
        r.last_end_ns = t1;
        if (t1 >= start.end_ns)
            break;
    }
    return r;
}

// `busy_us`: the CPU time of this process and those below it at the start and after the last
// loop, or -1s.
CellResult summarise(std::vector<LoopResult>& loops, int64_t start_ns,
                     std::pair<double, double> busy_us) {
    CellResult cell;
    std::vector<uint64_t> all;
    int64_t last = start_ns;
    for (auto& l : loops) {
        if (!l.error.empty() && cell.error.empty())
            cell.error = l.error;
        all.insert(all.end(), l.latencies_ns.begin(), l.latencies_ns.end());
        last = std::max(last, l.last_end_ns);
    }
    cell.ok = cell.error.empty() && !all.empty();
    if (all.empty() && cell.error.empty())
        cell.error = "no operation completed";
    std::sort(all.begin(), all.end());
    cell.ops = all.size();
    cell.seconds = static_cast<double>(last - start_ns) / 1e9;
    if (cell.seconds > 0)
        cell.ops_per_s = static_cast<double>(cell.ops) / cell.seconds;
    // Nearest rank: the smallest sample with at least q of all samples at or below it.
    auto pct = [&](double q) -> double {
        if (all.empty())
            return 0;
        size_t rank = static_cast<size_t>(q * static_cast<double>(all.size()) + 0.999999);
        rank = std::clamp<size_t>(rank, 1, all.size());
        return static_cast<double>(all[rank - 1]) / 1e3;
    };
    cell.p50_us = pct(0.50);
    cell.p99_us = pct(0.99);
    cell.max_us = all.empty() ? 0 : static_cast<double>(all.back()) / 1e3;
    if (busy_us.first >= 0 && busy_us.second >= busy_us.first && cell.ops > 0)
        cell.cpu_us_per_op = (busy_us.second - busy_us.first) / static_cast<double>(cell.ops);
    return cell;
}

// ---- processes --------------------------------------------------------------------------------

const std::string& self_exe() {
    static const std::string path = [] {
        char buf[4096];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
        return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
    }();
    return path;
}

bool write_full(int fd, const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

bool read_full(int fd, void* data, size_t size) {
    char* p = static_cast<char*>(data);
    while (size > 0) {
        ssize_t n = read(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

// Waits until fd is readable; false on timeout or error.
bool wait_readable(int fd, int64_t deadline_ns) {
    for (;;) {
        const int64_t left_ms = (deadline_ns - monotonic_ns()) / 1'000'000;
        if (left_ms <= 0)
            return false;
        pollfd p{fd, POLLIN, 0};
        int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
}

// Messages between the pool and a worker: u8 kind, u32 size, payload.
enum : uint8_t {
    kCmdWarmUp = 'W',  // payload: spec line; reply: status
    kCmdOpen = 'O',    // payload: spec line; reply: status
    kCmdStart = 'S',   // payload: StartMessage; reply: ResultHeader, error, latencies
    kCmdClose = 'C',   // drop the open client; no reply
    kCmdExit = 'X',
    kReady = 'R',
    kNotSupported = 'U',
    kFailed = 'E',
};

bool send_message(int fd, uint8_t kind, const void* data, uint32_t size) {
    return write_full(fd, &kind, 1) && write_full(fd, &size, sizeof size) &&
           (size == 0 || write_full(fd, data, size));
}

bool receive_message(int fd, uint8_t& kind, std::string& payload, int64_t deadline_ns) {
    uint32_t size = 0;
    if (deadline_ns > 0 && !wait_readable(fd, deadline_ns))
        return false;
    if (!read_full(fd, &kind, 1) || !read_full(fd, &size, sizeof size))
        return false;
    payload.resize(size);
    return size == 0 || read_full(fd, payload.data(), size);
}

}  // namespace

// ---- threads ----------------------------------------------------------------------------------

CellResult run_threads(const ClientSpec& spec, int clients, const RunLimits& limits) {
    struct Shared {
        std::mutex m;
        std::condition_variable cv;
        int ready = 0;
        int looped = 0;  // timed loops over (their clients not yet closed)
        int finished = 0;
        bool go = false;
        bool abort = false;
        StartMessage start{};
        std::string open_error;
        bool unsupported = false;
    } shared;
    std::vector<LoopResult> loops(static_cast<size_t>(clients));
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&, i] {
            auto client = open_client(spec);
            {
                std::unique_lock lock(shared.m);
                if (!client) {
                    if (shared.open_error.empty()) {
                        shared.open_error = client.error().message();
                        shared.unsupported = client.error().code() == kUnsupported;
                    }
                    shared.abort = true;
                }
                ++shared.ready;
                shared.cv.notify_all();
                shared.cv.wait(lock, [&] { return shared.go || shared.abort; });
            }
            if (client && !shared.abort)
                loops[static_cast<size_t>(i)] = timed_loop(**client, shared.start);
            {
                std::lock_guard lock(shared.m);
                ++shared.looped;
                shared.cv.notify_all();
            }
            client = Error("closed");  // close the client in its own thread
            std::lock_guard lock(shared.m);
            ++shared.finished;
            shared.cv.notify_all();
        });
    }
    CellResult cell;
    std::pair<double, double> busy{-1, -1};
    {
        std::unique_lock lock(shared.m);
        if (!shared.cv.wait_for(lock, std::chrono::milliseconds(kOpenTimeoutMs),
                                [&] { return shared.ready == clients; })) {
            std::fprintf(stderr, "attache-bench: clients did not open within %d s; giving up\n",
                         kOpenTimeoutMs / 1000);
            std::_Exit(3);
        }
        if (!shared.abort) {
            const int64_t start = start_instant(limits);
            shared.start = {start, start + static_cast<int64_t>(limits.seconds * 1e9),
                            limits.max_ops_per_client};
            shared.go = true;
        }
        shared.cv.notify_all();
        if (!shared.abort) {
            lock.unlock();
            sleep_until(shared.start.start_ns);
            busy.first = process_tree_cpu_us(getpid());
            lock.lock();
        }
        const auto overrun =
            std::chrono::nanoseconds(static_cast<int64_t>(limits.seconds * 1e9) + kOverrunNs);
        auto wait_for_all = [&](const int& count) {
            if (!shared.cv.wait_for(lock, overrun, [&] { return count == clients; })) {
                std::fprintf(stderr, "attache-bench: a client thread is stuck; giving up\n");
                std::_Exit(3);
            }
        };
        wait_for_all(shared.looped);
        busy.second = process_tree_cpu_us(getpid());
        wait_for_all(shared.finished);
    }
    for (auto& t : threads)
        t.join();
    if (shared.abort) {
        cell.error = shared.open_error;
        cell.unsupported = shared.unsupported;
        return cell;
    }
    return summarise(loops, shared.start.start_ns, busy);
}

WorkerPool::~WorkerPool() {
    stop_all();
}

void WorkerPool::stop_all() {
    for (auto& w : workers_) {
        send_message(w.to, kCmdExit, nullptr, 0);
        close(w.to);
    }
    for (auto& w : workers_) {
        // A worker stuck in a call (a hung agent) is not waited for.
        const int64_t deadline = monotonic_ns() + 5'000'000'000;
        int status = 0;
        while (waitpid(w.pid, &status, WNOHANG) == 0) {
            if (monotonic_ns() > deadline) {
                kill(w.pid, SIGKILL);
                waitpid(w.pid, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        unregister_child(w.pid);
        close(w.from);
    }
    workers_.clear();
}

Status WorkerPool::start(int count) {
    const std::string& exe = self_exe();
    for (int i = 0; i < count; ++i) {
        int to[2], from[2];
        if (pipe2(to, O_CLOEXEC) != 0)
            return Error(std::string("pipe2: ") + std::strerror(errno));
        if (pipe2(from, O_CLOEXEC) != 0) {
            close(to[0]);
            close(to[1]);
            return Error(std::string("pipe2: ") + std::strerror(errno));
        }
        const char* argv[] = {"attache-bench", "--worker", nullptr};
        const pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
            die_with_parent(parent);
            // Only async-signal-safe calls until exec. The pipes may already sit on fds 3 and
            // 4: move them out of the way first. dup2 clears FD_CLOEXEC on the final copies.
            const int reply = fcntl(from[1], F_DUPFD_CLOEXEC, 10);
            const int command = fcntl(to[0], F_DUPFD_CLOEXEC, 10);
            if (reply < 0 || command < 0 || dup2(reply, kReplyFd) < 0 ||
                dup2(command, kCommandFd) < 0)
                _exit(126);
            execv(exe.c_str(), const_cast<char* const*>(argv));
            _exit(127);
        }
        close(to[0]);
        close(from[1]);
        if (pid < 0) {
            close(to[1]);
            close(from[0]);
            return Error(std::string("fork: ") + std::strerror(errno));
        }
        register_child(pid);
        workers_.push_back({pid, to[1], from[0]});
    }
    return ok();
}

Status WorkerPool::warm_up(const ClientSpec& spec) {
    const std::string line = spec.encode();
    for (auto& w : workers_) {
        uint8_t kind = 0;
        std::string payload;
        if (!send_message(w.to, kCmdWarmUp, line.data(), static_cast<uint32_t>(line.size())) ||
            !receive_message(w.from, kind, payload,
                             monotonic_ns() + kOpenTimeoutMs * 1'000'000LL)) {
            return Error("a worker process did not answer");
        }
        if (kind != kReady)
            return Error(payload);
    }
    return ok();
}

CellResult WorkerPool::run(const ClientSpec& spec, int clients, const RunLimits& limits) {
    CellResult cell;
    if (clients > size()) {
        cell.error = "only " + std::to_string(size()) + " worker processes";
        return cell;
    }
    const std::string line = spec.encode();
    const auto used = std::span(workers_).first(static_cast<size_t>(clients));
    for (auto& w : used) {
        if (!send_message(w.to, kCmdOpen, line.data(), static_cast<uint32_t>(line.size()))) {
            std::fprintf(stderr, "attache-bench: a worker process is gone; giving up\n");
            std::_Exit(3);
        }
    }
    // Every worker opens its client at the same time, as threads do.
    std::vector<bool> opened(used.size(), false);
    for (size_t i = 0; i < used.size(); ++i) {
        uint8_t kind = 0;
        std::string payload;
        if (!receive_message(used[i].from, kind, payload,
                             monotonic_ns() + kOpenTimeoutMs * 1'000'000LL)) {
            std::fprintf(stderr, "attache-bench: a worker process did not open its client\n");
            std::_Exit(3);
        }
        opened[i] = kind == kReady;
        if (kind != kReady && cell.error.empty()) {
            cell.error = payload;
            cell.unsupported = kind == kNotSupported;
        }
    }
    if (!cell.error.empty()) {
        for (size_t i = 0; i < used.size(); ++i) {
            if (opened[i])
                send_message(used[i].to, kCmdClose, nullptr, 0);
        }
        return cell;
    }
    const int64_t start_ns = start_instant(limits);
    const StartMessage start{start_ns, start_ns + static_cast<int64_t>(limits.seconds * 1e9),
                             limits.max_ops_per_client};
    for (auto& w : used)
        send_message(w.to, kCmdStart, &start, sizeof start);
    sleep_until(start_ns);
    std::pair<double, double> busy{process_tree_cpu_us(getpid()), -1};
    std::vector<LoopResult> loops(used.size());
    for (size_t i = 0; i < used.size(); ++i) {
        uint8_t kind = 0;
        std::string raw;
        if (!receive_message(used[i].from, kind, raw, start.end_ns + kOverrunNs)) {
            std::fprintf(stderr, "attache-bench: a client process is stuck; giving up\n");
            std::_Exit(3);
        }
        ResultHeader h{};
        if (raw.size() < sizeof h) {
            loops[i].error = "a worker process sent a truncated result";
            continue;
        }
        std::memcpy(&h, raw.data(), sizeof h);
        if (raw.size() != sizeof h + h.error_size + h.count * sizeof(uint64_t)) {
            loops[i].error = "a worker process sent a truncated result";
            continue;
        }
        loops[i].last_end_ns = h.last_end_ns;
        loops[i].error.assign(raw.data() + sizeof h, h.error_size);
        loops[i].latencies_ns.resize(h.count);
        std::memcpy(loops[i].latencies_ns.data(), raw.data() + sizeof h + h.error_size,
                    h.count * sizeof(uint64_t));
    }
    busy.second = process_tree_cpu_us(getpid());
    return summarise(loops, start_ns, busy);
}

std::string_view mode_name(Mode mode) {
    return mode == Mode::threads ? "threads" : "processes";
}

double cpu_pressure_us() {
    std::FILE* f = std::fopen("/proc/pressure/cpu", "r");
    if (!f)
        return -1;
    char line[256];
    double total = -1;
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "some ", 5) != 0)
            continue;
        if (const char* t = std::strstr(line, "total="))
            total = std::strtod(t + 6, nullptr);
    }
    std::fclose(f);
    return total;
}

void sleep_until(int64_t t_ns) {
    timespec ts{static_cast<time_t>(t_ns / 1'000'000'000), static_cast<long>(t_ns % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

int64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int worker_main() {
    signal(SIGPIPE, SIG_IGN);
    std::unique_ptr<Client> client;
    ClientSpec spec;
    for (;;) {
        uint8_t kind = 0;
        std::string payload;
        if (!receive_message(kCommandFd, kind, payload, 0))
            return 0;  // the pool went away
        auto reply = [](uint8_t status, const std::string& message) {
            return send_message(kReplyFd, status, message.data(),
                                static_cast<uint32_t>(message.size()));
        };
        if (kind == kCmdExit)
            return 0;
        if (kind == kCmdClose) {
            client.reset();
            continue;
        }
        if (kind == kCmdWarmUp || kind == kCmdOpen) {
            client.reset();
            auto decoded = ClientSpec::decode(payload);
            if (!decoded) {
                reply(kFailed, decoded.error().message());
                continue;
            }
            spec = std::move(*decoded);
            if (kind == kCmdWarmUp) {
                auto s = warm_up(spec);
                reply(s ? kReady : kFailed, s ? "" : s.error().message());
                continue;
            }
            auto opened = open_client(spec);
            if (!opened) {
                reply(opened.error().code() == kUnsupported ? kNotSupported : kFailed,
                      opened.error().message());
                continue;
            }
            client = std::move(*opened);
            reply(kReady, "");
            continue;
        }
        if (kind == kCmdStart && client && payload.size() == sizeof(StartMessage)) {
            StartMessage start{};
            std::memcpy(&start, payload.data(), sizeof start);
            LoopResult r = timed_loop(*client, start);
            client.reset();
            const ResultHeader h{r.latencies_ns.size(), r.last_end_ns,
                                 static_cast<uint32_t>(r.error.size())};
            std::string out(reinterpret_cast<const char*>(&h), sizeof h);
            out += r.error;
            out.append(reinterpret_cast<const char*>(r.latencies_ns.data()),
                       r.latencies_ns.size() * sizeof(uint64_t));
            if (!send_message(kReplyFd, kReady, out.data(), static_cast<uint32_t>(out.size())))
                return 1;
            continue;
        }
        return 2;  // a command out of order: the pool is broken
    }
}

}  // namespace attache::bench
