#include "agent/server/server.h"

#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

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
    if (stopping_)
        return ok();

    std::vector<pollfd> fds;
    fds.push_back({signals.get(), POLLIN, 0});
    fds.push_back({stop_event_.get(), POLLIN, 0});
    for (const auto& [fd, handler] : listeners_)
        fds.push_back({fd, POLLIN, 0});

    while (!stopping_) {
        if (poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR)
                continue;
            return Error(std::string("poll: ") + std::strerror(errno));
        }
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
        for (size_t i = 2; i < fds.size() && !stopping_; ++i) {
            if (fds[i].revents & POLLIN) {
                accept_one(listeners_[i - 2].first, *listeners_[i - 2].second);
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

void Server::accept_one(int listen_fd, ConnectionHandler& handler) {
    UniqueFd fd(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd.valid())
        return;
    auto peer = peer_of(fd.get());
    if (!peer) {
        log_warning("refused a connection: " + peer.error().message());
        return;
    }
    const uid_t me = getuid();
    if (peer->uid != me && !(peer->uid == 0 && options_.allow_root)) {
        log_warning("refused a connection from uid " + std::to_string(peer->uid) + " (pid " +
                    std::to_string(peer->pid) + ", " + peer->exe + "): only uid " +
                    std::to_string(me) + " may use this agent");
        return;
    }
    if (active_.load() >= kMaxConnections) {
        log_warning("refused a connection from pid " + std::to_string(peer->pid) + ": " +
                    std::to_string(kMaxConnections) + " connections already open");
        return;
    }
    uint64_t id;
    {
        std::lock_guard lock(mutex_);
        id = next_connection_++;
        connection_fds_[id] = fd.get();
        ++active_;
    }
    peer->connection = id;
    ClientInfo client = *peer;
    int raw = fd.release();
    std::thread([this, raw, client, &handler] {
        UniqueFd conn(raw);
        handler.serve(conn.get(), client);
        // OpenSSL's per-thread state (the modules' C_Login may have made a random generator
        // for this thread) is freed now: the thread is detached, and the process may exit as
        // soon as the count below reaches zero, before thread-exit handlers would run.
        OPENSSL_thread_stop();
        std::lock_guard lock(mutex_);
        connection_fds_.erase(client.connection);
        // Close under the lock so shutdown_connections() never touches a reused fd number.
        conn.reset();
        --active_;
        drained_.notify_all();
    }).detach();
}

void Server::shutdown_connections() {
    std::lock_guard lock(mutex_);
    for (const auto& [id, fd] : connection_fds_)
        shutdown(fd, SHUT_RD);
}

}  // namespace attache::agent
