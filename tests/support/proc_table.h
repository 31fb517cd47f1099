#pragma once

// What /proc/PID/stat says of the machine's processes: who is whose child, and the CPU time
// each has spent. For tests that look at the agent's helper processes, and the benchmark.

#include <sys/types.h>

#include <vector>

namespace attache::testing {

// One process as /proc/PID/stat shows it.
struct ProcStat {
    pid_t pid = -1;
    pid_t ppid = -1;
    unsigned long long cpu_ticks = 0;  // utime + stime: every thread, ended ones too
};

// Every process of the machine that could be read.
std::vector<ProcStat> all_processes();
// The processes whose parent is `pid`, oldest (lowest start time) first.
std::vector<pid_t> children_of(pid_t pid);
// utime + stime of `pid` in clock ticks (sysconf(_SC_CLK_TCK)); 0 when unreadable.
unsigned long long cpu_ticks_of(pid_t pid);

}  // namespace attache::testing
