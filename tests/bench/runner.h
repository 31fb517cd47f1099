#pragma once

// Runs N concurrent clients of one path for a fixed time, as threads of this process or as
// separate processes, and measures operations per second and per-operation latency.
//
// Every client is opened (connection, session, login) and its first result checked before
// timing starts; then all clients start at one instant of CLOCK_MONOTONIC, each runs
// operations back to back until the common end instant, and records each operation's latency.
// Throughput is the number of operations over the time from the common start to the last
// completion.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pkcs11/result.h"
#include "tests/bench/spec.h"

namespace attache::bench {

enum class Mode { threads, processes };
std::string_view mode_name(Mode mode);

struct RunLimits {
    double seconds = 2.0;
    uint64_t max_ops_per_client = UINT64_MAX;  // smoke runs stop earlier
    // CLOCK_MONOTONIC instant at which the clients start (monotonic_ns()); 0: shortly after
    // the last one opened.
    int64_t start_at_ns = 0;
};

struct CellResult {
    bool ok = false;
    bool unsupported = false;  // the path cannot do this mechanism (not a failure)
    std::string error;
    uint64_t ops = 0;
    double seconds = 0;
    double ops_per_s = 0;
    double p50_us = 0;
    double p99_us = 0;
    double max_us = 0;
    // Share of the cell's wall time in which some runnable task waited for a CPU
    // (/proc/pressure/cpu); -1 when the kernel does not report it. With one client and the
    // agent on two cores, anything above a few percent is other work on the machine, except on
    // the helper paths (g, h), where client, helper (and agent) all poll: three busy tasks.
    double cpu_wait = -1;
    // CPU time (user and system) of the benchmark's processes from the common start to the
    // last completion, divided by the operations: the clients, and the servers of the path
    // (the agent and its module helpers, ssh-agent, p11-kit's server), all below this
    // process; other work on the machine is not counted. -1 when /proc cannot be read.
    double cpu_us_per_op = -1;
};

// The kernel's cumulative CPU pressure ("some" total, microseconds); -1 when unavailable.
double cpu_pressure_us();

// Clients as threads of this process, started for this cell.
CellResult run_threads(const ClientSpec& spec, int clients, const RunLimits& limits);

// Clients as separate processes: the benchmark binary itself, started once with fork + exec
// (before any module is loaded in them) and kept for the whole run, so that the logins their
// modules need happen once, during setup (see warm_up in clients.h). Each cell opens a fresh
// client (connection, session) in the first `clients` workers.
class WorkerPool {
  public:
    WorkerPool() = default;
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    Status start(int count);
    int size() const { return static_cast<int>(workers_.size()); }
    // warm_up(spec) in every worker, one after the other.
    Status warm_up(const ClientSpec& spec);
    CellResult run(const ClientSpec& spec, int clients, const RunLimits& limits);

  private:
    struct Worker {
        pid_t pid = -1;
        int to = -1;    // commands
        int from = -1;  // replies
    };
    void stop_all();
    std::vector<Worker> workers_;
};

// The entry point of a worker process (`attache-bench --worker`): commands on fd 4, replies on
// fd 3. Returns the process's exit code.
int worker_main();

// Nanoseconds of CLOCK_MONOTONIC (shared by all processes of the machine).
int64_t monotonic_ns();
// Sleeps until that instant of CLOCK_MONOTONIC.
void sleep_until(int64_t t_ns);

}  // namespace attache::bench
