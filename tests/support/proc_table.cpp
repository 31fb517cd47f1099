#include "tests/support/proc_table.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace attache::testing {
namespace {

struct Parsed {
    ProcStat stat;
    unsigned long long start_time = 0;
};

// pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
// stime cutime cstime priority nice num_threads itrealvalue starttime ... (proc(5)): comm may
// hold spaces, so the fields are read after the last ')'.
bool parse(pid_t pid, Parsed& out) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(in, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos)
        return false;
    std::istringstream ss(line.substr(close + 1));
    std::string state;
    unsigned long long skip = 0, utime = 0, stime = 0;
    ss >> state >> out.stat.ppid;
    for (int i = 0; i < 9; ++i)
        ss >> skip;
    ss >> utime >> stime;
    for (int i = 0; i < 6; ++i)
        ss >> skip;
    ss >> out.start_time;
    if (!ss)
        return false;
    out.stat.pid = pid;
    out.stat.cpu_ticks = utime + stime;
    return true;
}

std::vector<Parsed> read_all() {
    std::vector<Parsed> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        Parsed p;
        if (parse(static_cast<pid_t>(std::stol(name)), p))
            out.push_back(p);
    }
    return out;
}

}  // namespace

std::vector<ProcStat> all_processes() {
    std::vector<ProcStat> out;
    for (const Parsed& p : read_all())
        out.push_back(p.stat);
    return out;
}

std::vector<pid_t> children_of(pid_t pid) {
    std::vector<Parsed> children;
    for (const Parsed& p : read_all()) {
        if (p.stat.ppid == pid)
            children.push_back(p);
    }
    std::stable_sort(children.begin(), children.end(),
                     [](const Parsed& a, const Parsed& b) { return a.start_time < b.start_time; });
    std::vector<pid_t> out;
    for (const Parsed& p : children)
        out.push_back(p.stat.pid);
    return out;
}

unsigned long long cpu_ticks_of(pid_t pid) {
    Parsed p;
    return parse(pid, p) ? p.stat.cpu_ticks : 0;
}

}  // namespace attache::testing
