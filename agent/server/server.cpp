#include "agent/server/server.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "agent/core/log.h"
#include "agent/server/peer.h"

namespace attache::agent {
namespace {

sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    return set;
}

}  // namespace

Server::~Server() {
    stop();
}

Status Server::block_signals() {
    sigset_t set = handled_signals();
    if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0)
        return Error("cannot block signals");
    signal(SIGPIPE, SIG_IGN);
    return ok();
}

void Server::add_listener(int fd, ConnectionHandler& handler) {
    listeners_.emplace_back(fd, &handler);
}

void Server::stop() {
    stopping_ = true;
    if (stop_event_.valid()) {
        uint64_t one = 1;
        (void)!write(stop_event_.get(), &one, sizeof one);
    }
}

Status Server::run(int drain_ms) {
    sigset_t set = handled_signals();
    UniqueFd signals(signalfd(-1, &set, SFD_CLOEXEC));
    if (!signals.valid())
        return Error(std::string("signalfd: ") + std::strerror(errno));
    stop_event_.reset(eventfd(0, EFD_CLOEXEC));
    reserve_fd_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (stopping_)
        return ok();

    std::vector<pollfd> fds;
    fds.push_back({signals.get(), POLLIN, 0});
    fds.push_back({stop_event_.get(), POLLIN, 0});
    for (const auto& [fd, handler] : listeners_)
        fds.push_back({fd, POLLIN, 0});

    using Clock = std::chrono::steady_clock;
    bool resting = false;  // the listeners rest (accept() found no descriptor) until:
    Clock::time_point resting_until{};
    while (!stopping_) {
        if (!reserve_fd_.valid())  // taken by another thread while it was closed
            reserve_fd_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
        int timeout = -1;
        if (resting) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(resting_until - Clock::now());
            timeout = static_cast<int>(std::max<int64_t>(0, left.count()));
        }
        for (size_t i = 2; i < fds.size(); ++i)
            fds[i].events = resting ? 0 : POLLIN;
        const int ready = poll(fds.data(), fds.size(), timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            return Error(std::string("poll: ") + std::strerror(errno));
        }
        if (resting && Clock::now() >= resting_until)
            resting = false;
        if (fds[0].revents & POLLIN) {
            signalfd_siginfo si{};
            if (read(signals.get(), &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGUSR1) {
                    log_info("SIGUSR1: locking every token");
                    if (options_.on_lock_signal)
                        options_.on_lock_signal();
                } else if (si.ssi_signo == SIGHUP) {
                    log_info("SIGHUP ignored (restart the agent to reread its configuration)");
                } else {
                    log_info(std::string("received ") + strsignal(static_cast<int>(si.ssi_signo)) +
                             "; shutting down");
                    stopping_ = true;
                }
            }
        }
        if (fds[1].revents & POLLIN)
            stopping_ = true;
        for (size_t i = 2; i < fds.size() && !stopping_ && !resting; ++i) {
            if ((fds[i].revents & POLLIN) &&
                !accept_one(listeners_[i - 2].first, *listeners_[i - 2].second)) {
                resting = true;
                resting_until = Clock::now() + std::chrono::milliseconds(kAcceptBackoffMs);
            }
        }
    }

    shutdown_connections();
    std::unique_lock lock(mutex_);
    if (!drained_.wait_for(lock, std::chrono::milliseconds(drain_ms),
                           [&] { return active_.load() == 0; })) {
        log_warning(std::to_string(active_.load()) +
                    " request(s) still running at shutdown (a card not answering?)");
    }
    return ok();
}

void Server::refused(const std::string& why) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_log_ < std::chrono::seconds(1)) {
        ++refusals_not_logged_;
        return;
    }
    std::string line = "refused a connection " + why;
    if (refusals_not_logged_ > 0) {
        line += " (and " + std::to_string(refusals_not_logged_) +
                " other refusal(s) in the last second)";
    }
    log_warning(line);
    last_refusal_log_ = now;
    refusals_not_logged_ = 0;
}

bool Server::shed_pending(int listen_fd) {
    if (!reserve_fd_.valid())
        return false;
    reserve_fd_.reset();
    UniqueFd pending(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    const bool shed = pending.valid();
    pending.reset();
    reserve_fd_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (shed)
        refused("at once: the agent has no file descriptor left (RLIMIT_NOFILE)");
    return shed && reserve_fd_.valid();
}

std::string Server::over_quota_locked(const ClientFacts& client) const {
    if (active_.load() >= kMaxConnections)
        return std::to_string(kMaxConnections) + " connections already open";
    if (auto it = per_process_.find(client.pid);
        it != per_process_.end() && it->second >= kMaxConnectionsPerProcess) {
        return "this process already holds " + std::to_string(kMaxConnectionsPerProcess) +
               " connections";
    }
    if (client.exe != "?") {
        if (auto it = per_executable_.find(client.exe);
            it != per_executable_.end() && it->second >= kMaxConnectionsPerExecutable) {
            return "processes of this program already hold " +
                   std::to_string(kMaxConnectionsPerExecutable) + " connections";
        }
    }
    return {};
}

bool Server::accept_one(int listen_fd, ConnectionHandler& handler) {
    UniqueFd fd(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd.valid()) {
        if (errno == EMFILE || errno == ENFILE)
            return shed_pending(listen_fd);
        // ENOBUFS, ENOMEM: the kernel is short of memory; EAGAIN, ECONNABORTED: nothing to do.
        return errno != ENOBUFS && errno != ENOMEM;
    }
    auto peer = peer_of(fd.get());
    if (!peer) {
        refused("without peer credentials: " + peer.error().message());
        return true;
    }
    const std::string who = "from pid " + std::to_string(peer->pid) + " (" + peer->exe + ")";
    const uid_t me = getuid();
    if (peer->uid == 0 ? !options_.allow_root && me != 0 : peer->uid != me && !options_.any_uid) {
        refused("from uid " + std::to_string(peer->uid) + " (pid " + std::to_string(peer->pid) +
                ", " + peer->exe + "): only uid " + std::to_string(me) + " may use this agent");
        return true;
    }
    rlimit nofile{};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
        static_cast<rlim_t>(fd.get()) + kFdHeadroom >= nofile.rlim_cur) {
        refused(who + ": the agent is near its file descriptor limit (" +
                std::to_string(nofile.rlim_cur) + ", RLIMIT_NOFILE)");
        return true;
    }
    uint64_t id;
    {
        std::lock_guard lock(mutex_);
        if (std::string why = over_quota_locked(*peer); !why.empty()) {
            refused(who + ": " + why);
            return true;
        }
        id = next_connection_++;
        connections_[id] = {fd.get(), peer->pid, peer->exe};
        ++per_process_[peer->pid];
        ++per_executable_[peer->exe];
        ++active_;
    }
    peer->connection = id;
    start_thread(std::move(fd), std::move(*peer), handler);
    return true;
}

void Server::forget_locked(uint64_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end())
        return;
    if (--per_process_[it->second.pid] == 0)
        per_process_.erase(it->second.pid);
    if (--per_executable_[it->second.exe] == 0)
        per_executable_.erase(it->second.exe);
    connections_.erase(it);
}

void Server::start_thread(UniqueFd fd, ClientFacts client, ConnectionHandler& handler) {
    const int raw = fd.get();
    try {
        std::thread([this, raw, client, &handler]() mutable {
            UniqueFd conn(raw);
            add_session_facts(client, options_.sessions);
            handler.serve(conn.get(), client);
            // OpenSSL's per-thread state (the modules' C_Login may have made a random generator
            // for this thread) is freed now: the thread is detached, and the process may exit
            // as soon as the count below reaches zero, before thread-exit handlers would run.
            OPENSSL_thread_stop();
            std::lock_guard lock(mutex_);
            forget_locked(client.connection);
            // Close under the lock so shutdown_connections() never touches a reused fd number.
            conn.reset();
            --active_;
            drained_.notify_all();
        }).detach();
        (void)fd.release();  // the thread owns it now
    } catch (const std::system_error& e) {
        // RLIMIT_NPROC, or memory for the stack: this connection is refused, the others go on.
        std::lock_guard lock(mutex_);
        forget_locked(client.connection);
        fd.reset();
        --active_;
        drained_.notify_all();
        refused("from pid " + std::to_string(client.pid) + " (" + client.exe +
                "): cannot start a thread for it (" + e.what() + ")");
    }
}

void Server::shutdown_connections() {
    std::lock_guard lock(mutex_);
    for (const auto& [id, c] : connections_)
        shutdown(c.fd, SHUT_RD);
}

}  // namespace attache::agent
