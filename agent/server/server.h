#pragma once

// The accept loop: listening sockets in, one thread per accepted connection out. Every
// connection is checked with SO_PEERCRED before anything is read from it. Signals arrive
// through a signalfd: SIGTERM/SIGINT stop the server, SIGUSR1 locks every token.
//
// Under pressure it fails closed for the connection at hand and keeps serving the others: a
// connection over a quota (below), one that would leave fewer than kFdHeadroom descriptors
// free, or one whose thread cannot be created is closed at once and logged (at most a line a
// second). When accept() itself finds no descriptor (EMFILE, ENFILE), a descriptor kept in
// reserve is closed, the pending connection accepted and closed, and the reserve reopened; if
// even that fails, the listeners rest for kAcceptBackoff instead of spinning.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/request/session_directory.h"
#include "agent/server/connection_handler.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/result.h"

namespace attache::agent {

// Connections served at once: each has a thread; one user's clients need a handful.
inline constexpr size_t kMaxConnections = 256;
// Connections one process may hold (its pid by SO_PEERCRED), so that one process that leaks
// or hoards connections cannot lock the others out. attache-pkcs11.so opens one per thread
// busy with the agent at the same time; 64 is far above what a browser needs.
inline constexpr size_t kMaxConnectionsPerProcess = 64;
// Connections all processes of one executable may hold (a program forking clients). Not
// applied when the executable is unknown: /proc/PID/exe of a non-dumpable process (the attache
// CLI, ssh-agent) cannot be read by another process.
inline constexpr size_t kMaxConnectionsPerExecutable = 128;
// Descriptors kept free below RLIMIT_NOFILE for the modules (SoftHSM2 opens files in its
// calls), pinentry's pipes and the log; checked at each accept against the current limit.
inline constexpr int kFdHeadroom = 16;
// How long the listeners rest when accept() finds no descriptor even with the reserve freed.
inline constexpr int kAcceptBackoffMs = 100;

struct ServerOptions {
    bool allow_root = false;
    // Managed mode: every local uid may connect; the broker's chain decides what each may do.
    bool any_uid = false;
    std::function<void()> on_lock_signal;  // SIGUSR1
    // Where a client's login session is looked up (logind); null: only the sshd-ancestor
    // fallback. Asked in the connection's thread, so a slow bus never holds the accept loop.
    SessionDirectory* sessions = nullptr;
};

class Server {
  public:
    explicit Server(ServerOptions options) : options_(std::move(options)) {}
    ~Server();

    void add_listener(int fd, ConnectionHandler& handler);
    // Blocks SIGTERM, SIGINT, SIGHUP, SIGUSR1 in the calling thread; call before any other
    // thread starts so every thread inherits the mask.
    static Status block_signals();
    // Serves until SIGTERM/SIGINT or stop(); then stops reading from every connection, lets
    // in-flight requests finish (for at most `drain_ms`) and returns.
    Status run(int drain_ms = 5000);
    void stop();

    size_t active_connections() const { return active_.load(); }

  private:
    struct Connection {
        int fd = -1;
        pid_t pid = 0;
        std::string exe;
    };

    // Returns false when accept() found no descriptor and the listeners must rest.
    bool accept_one(int listen_fd, ConnectionHandler& handler);
    // accept() failed with EMFILE or ENFILE: the pending connection is accepted on the reserve
    // descriptor's number and closed. Returns false when that failed too.
    bool shed_pending(int listen_fd);
    // Why this client may not have one more connection; empty: it may. Requires mutex_.
    std::string over_quota_locked(const ClientFacts& client) const;
    void start_thread(UniqueFd fd, ClientFacts client, ConnectionHandler& handler);
    void forget_locked(uint64_t id);  // requires mutex_
    void refused(const std::string& why);
    void shutdown_connections();

    ServerOptions options_;
    std::vector<std::pair<int, ConnectionHandler*>> listeners_;
    UniqueFd stop_event_;  // eventfd for stop()
    std::atomic<bool> stopping_{false};

    UniqueFd reserve_fd_;  // /dev/null, closed to accept a connection when none is left

    // Refusals come in floods (a client retrying in a loop): one line a second at most.
    std::chrono::steady_clock::time_point last_refusal_log_{};
    size_t refusals_not_logged_ = 0;

    std::mutex mutex_;
    std::condition_variable drained_;
    std::map<uint64_t, Connection> connections_;
    std::map<pid_t, size_t> per_process_;
    std::map<std::string, size_t> per_executable_;
    std::atomic<size_t> active_{0};
    uint64_t next_connection_ = 1;
};

}  // namespace attache::agent
