#pragma once

// Servers the benchmark starts (attache-agent, ssh-agent, p11-kit server) as child processes,
// and what /proc says about a process's memory.

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "pkcs11/result.h"
#include "tests/support/proc_table.h"

namespace attache::bench {

class Child {
  public:
    Child() = default;
    ~Child() { stop(); }
    Child(Child&& other) noexcept;
    Child& operator=(Child&& other) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    // fork + exec argv[0] (a path, or a name searched in PATH) with `env` set on top of this
    // process's environment, standard input from /dev/null, standard output and error appended
    // to `log_path`.
    static Result<Child> spawn(const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& env,
                               const std::string& log_path);

    pid_t pid() const { return pid_; }
    // False once the process has exited (it is then reaped).
    bool running();
    // SIGTERM, then SIGKILL after `grace_ms`; reaps it. Returns the exit status, -1 if it was
    // killed by a signal or not running.
    int stop(int grace_ms = 5000);

  private:
    explicit Child(pid_t pid) : pid_(pid) {}
    pid_t pid_ = -1;
};

// Children registered here are sent SIGTERM when this process is interrupted (SIGINT,
// SIGTERM, SIGHUP); every child also gets SIGTERM from the kernel if this process dies
// (PR_SET_PDEATHSIG). install_interrupt_handler() sets up the first.
void register_child(pid_t pid);
void unregister_child(pid_t pid);
void install_interrupt_handler();
// For a child between fork and exec: die with the parent. Async-signal-safe.
void die_with_parent(pid_t parent);

// A field of /proc/PID/status in KiB ("VmRSS", "VmHWM"); -1 when unreadable.
long proc_status_kib(pid_t pid, const std::string& field);
// A field of /proc/PID/smaps_rollup in KiB ("Pss", "Anonymous"); -1 when unreadable.
long proc_rollup_kib(pid_t pid, const std::string& field);
using testing::children_of;  // tests/support/proc_table.h

// CPU time (user and system, every thread) spent so far by `root` and every process below it,
// in microseconds, at the kernel's tick resolution (sysconf(_SC_CLK_TCK)); -1 when unreadable.
double process_tree_cpu_us(pid_t root);

// Waits until `path` exists (a server's socket), at most `timeout_ms`.
bool wait_for_path(const std::string& path, int timeout_ms);

}  // namespace attache::bench
