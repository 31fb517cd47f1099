#include "agent/server/peer.h"

#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace attache::agent {
namespace {

std::string proc_path(pid_t pid, const char* file) {
    return "/proc/" + std::to_string(pid) + "/" + file;
}

// A small /proc file whole; nullopt when it cannot be read (the process is gone, or hidden).
std::optional<std::string> read_proc(pid_t pid, const char* file) {
    std::ifstream in(proc_path(pid, file));
    if (!in)
        return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad())
        return std::nullopt;
    return ss.str();
}

std::optional<ProcStat> read_stat(pid_t pid) {
    auto text = read_proc(pid, "stat");
    return text ? parse_proc_stat(*text) : std::nullopt;
}

// The canonical path of /proc/PID/exe; "?" when unreadable (another user's or a
// non-dumpable process).
std::string read_exe(pid_t pid) {
    char buf[4096];
    const ssize_t n = readlink(proc_path(pid, "exe").c_str(), buf, sizeof buf);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof buf)
        return "?";
    std::string exe(buf, static_cast<size_t>(n));
    // The binary was replaced or removed since it started (an upgrade): the path still names
    // what the process runs.
    static constexpr std::string_view kDeleted = " (deleted)";
    if (exe.size() > kDeleted.size() && exe.ends_with(kDeleted))
        exe.resize(exe.size() - kDeleted.size());
    return exe;
}

std::string read_comm(pid_t pid) {
    std::string comm = read_proc(pid, "comm").value_or("");
    if (!comm.empty() && comm.back() == '\n')
        comm.pop_back();
    return comm;
}

// One process read between two looks at its start time; nullopt when it went away or its
// pid was reused meanwhile.
struct Looked {
    ProcStat stat;
    std::string exe;
    std::string comm;
};
std::optional<Looked> look_at(pid_t pid) {
    auto before = read_stat(pid);
    if (!before)
        return std::nullopt;
    Looked l{*before, read_exe(pid), read_comm(pid)};
    auto after = read_stat(pid);
    if (!after || after->start_time != before->start_time)
        return std::nullopt;
    return l;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
    const size_t close = text.rfind(')');
    if (close == std::string_view::npos)
        return std::nullopt;
    // Fields 3 (state) onwards, separated by single spaces.
    std::vector<std::string_view> fields;
    size_t pos = close + 1;
    while (pos < text.size() && fields.size() < 20) {
        while (pos < text.size() && text[pos] == ' ')
            ++pos;
        const size_t end = std::min(text.find(' ', pos), text.size());
        if (end > pos)
            fields.push_back(text.substr(pos, end - pos));
        pos = end;
    }
    auto number = [&](size_t field, auto& out) {
        if (fields.size() <= field - 3)
            return false;
        std::string_view f = fields[field - 3];
        while (!f.empty() && f.back() == '\n')
            f.remove_suffix(1);
        auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), out);
        return ec == std::errc() && p == f.data() + f.size();
    };
    ProcStat s;
    if (!number(4, s.ppid) || !number(22, s.start_time))
        return std::nullopt;
    return s;
}

std::string unit_of_cgroup(std::string_view text) {
    // cgroup v2: one line "0::/path". cgroup v1: "N:controllers:/path" lines, systemd's in
    // "name=systemd". The unified line is preferred.
    std::string_view path;
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t end = std::min(text.find('\n', pos), text.size());
        const std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        const size_t c1 = line.find(':');
        const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string_view::npos)
            continue;
        const std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
        if (line.substr(0, c1) == "0" && controllers.empty()) {
            path = line.substr(c2 + 1);
            break;
        }
        if (controllers == "name=systemd")
            path = line.substr(c2 + 1);
    }
    std::string_view unit;
    size_t start = 0;
    while (start <= path.size()) {
        const size_t end = std::min(path.find('/', start), path.size());
        const std::string_view part = path.substr(start, end - start);
        if (part.ends_with(".service") || part.ends_with(".scope"))
            unit = part;
        start = end + 1;
    }
    return std::string(unit);
}

void add_process_facts(ClientFacts& client) {
    const pid_t pid = client.pid;
    client.exe = "?";
    client.parents.clear();
    const auto before = read_stat(pid);
    if (!before)
        return;
    client.start_time = before->start_time;
    std::string exe = read_exe(pid);
    std::vector<ProcessLink> parents;
    for (pid_t p = before->ppid; p > 1 && parents.size() < kMaxParentChain;) {
        auto link = look_at(p);
        if (!link)
            break;  // it exited meanwhile: the chain ends here (the rest was not this one's)
        parents.push_back({p, std::move(link->exe), std::move(link->comm)});
        p = link->stat.ppid;
    }
    std::string unit = unit_of_cgroup(read_proc(pid, "cgroup").value_or(""));
    const auto after = read_stat(pid);
    if (!after || after->start_time != before->start_time)
        return;  // another process has this pid now: what was read may be its
    client.exe = std::move(exe);
    client.parents = std::move(parents);
    client.unit = std::move(unit);
}

std::string login_name(uid_t uid) {
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
        return {};
    return found->pw_name;
}

Result<ClientFacts> peer_of(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
        return Error(std::string("SO_PEERCRED: ") + std::strerror(errno));
    }
    ClientFacts c;
    c.pid = cred.pid;
    c.uid = cred.uid;
    c.gid = cred.gid;
    c.user = login_name(cred.uid);
    add_process_facts(c);
    return c;
}

}  // namespace attache::agent
