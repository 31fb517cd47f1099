#include "agent/workstation/stop_agent.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "pkcs11/agent_protocol/client.h"
#include "pkcs11/agent_protocol/unique_fd.h"

namespace attache::agent {
namespace {

// The agent lets running requests finish for up to 5 s before it exits (Server::run).
constexpr int kExitWaitMs = 15'000;
// After the exit, how long its socket may take to disappear (it is removed before the exit).
constexpr auto kSocketGoneWait = std::chrono::seconds(2);

std::string first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// The real uid of /proc/PID/status ("Uid:\treal\teffective\t...").
std::optional<uid_t> real_uid_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Uid:", 0) == 0)
            return static_cast<uid_t>(std::stoul(line.substr(4)));
    }
    return std::nullopt;
}

// glibc 2.36's <sys/pidfd.h> lacks extern "C": the system calls directly.
int pidfd_open(pid_t pid) {
    return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

int pidfd_send_signal(int pidfd, int signal) {
    return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

Error sys_error(const std::string& what) {
    return Error(what + ": " + std::strerror(errno));
}

struct Listener {
    ucred peer{};  // of the process that listens on the socket
    protocol::StatusReply status;
};

// One connection, closed on return (the agent would otherwise wait for it at shutdown).
Result<Listener> ask(const std::string& socket) {
    ATTACHE_TRY(protocol::Client client, protocol::Client::connect(socket, "attache-agent -k"));
    Listener out;
    socklen_t len = sizeof out.peer;
    if (getsockopt(client.fd(), SOL_SOCKET, SO_PEERCRED, &out.peer, &len) != 0 ||
        len != sizeof out.peer)
        return sys_error("SO_PEERCRED");
    ATTACHE_TRY(protocol::Reply reply, client.call(protocol::StatusRequest{}));
    auto* status = std::get_if<protocol::StatusReply>(&reply);
    if (status == nullptr)
        return Error("the agent on " + socket + " did not report its status");
    out.status = std::move(*status);
    return out;
}

}  // namespace

Result<StoppedAgent> stop_agent(const std::string& socket) {
    ATTACHE_TRY(Listener listener, ask(socket));
    const ucred& peer = listener.peer;
    const protocol::StatusReply* status = &listener.status;
    if (static_cast<pid_t>(status->pid) != peer.pid) {
        return Error("the socket " + socket + " belongs to pid " + std::to_string(peer.pid) +
                     ", not to the agent (pid " + std::to_string(status->pid) +
                     "): it was passed by systemd; stop the agent with `systemctl --user stop "
                     "attache-agent.socket attache-agent.service`");
    }
    UniqueFd pidfd(pidfd_open(peer.pid));
    if (!pidfd.valid())
        return sys_error("pidfd_open " + std::to_string(peer.pid));
    // With the pidfd held, the pid names this process until the pidfd is closed.
    const std::string comm = first_line("/proc/" + std::to_string(peer.pid) + "/comm");
    const auto uid = real_uid_of(peer.pid);
    if (comm != "attache-agent" || !uid || *uid != getuid() || peer.uid != getuid()) {
        return Error("pid " + std::to_string(peer.pid) + " serving " + socket + " is '" + comm +
                     "' of uid " + (uid ? std::to_string(*uid) : std::string("?")) +
                     ", not your attache-agent; not stopping it");
    }
    StoppedAgent out{peer.pid, status->ssh_socket};
    if (pidfd_send_signal(pidfd.get(), SIGTERM) != 0)
        return sys_error("cannot signal attache-agent (pid " + std::to_string(peer.pid) + ")");
    pollfd exited{pidfd.get(), POLLIN, 0};
    int n = 0;
    while ((n = poll(&exited, 1, kExitWaitMs)) < 0 && errno == EINTR) {
    }
    if (n == 0) {
        return Error("attache-agent (pid " + std::to_string(peer.pid) + ") did not exit within " +
                     std::to_string(kExitWaitMs / 1000) + " s of SIGTERM (a card not answering?)");
    }
    const auto deadline = std::chrono::steady_clock::now() + kSocketGoneWait;
    std::error_code ec;
    while (std::filesystem::exists(socket, ec) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (std::filesystem::exists(socket, ec))
        return Error("attache-agent exited but left its socket " + socket);
    return out;
}

}  // namespace attache::agent
