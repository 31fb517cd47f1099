#pragma once

// The accept loop: listening sockets in, one thread per accepted connection out. Every
// connection is checked with SO_PEERCRED before anything is read from it. Signals arrive
// through a signalfd: SIGTERM/SIGINT stop the server, SIGUSR1 locks every token.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/protocol/unique_fd.h"
#include "agent/server/connection_handler.h"
#include "pkcs11/result.h"

namespace attache::agent {

// Connections served at once: each has a thread; one user's clients need a handful.
inline constexpr size_t kMaxConnections = 256;

struct ServerOptions {
    bool allow_root = false;
    std::function<void()> on_lock_signal;  // SIGUSR1
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
    void accept_one(int listen_fd, ConnectionHandler& handler);
    void shutdown_connections();

    ServerOptions options_;
    std::vector<std::pair<int, ConnectionHandler*>> listeners_;
    UniqueFd stop_event_;  // eventfd for stop()
    std::atomic<bool> stopping_{false};

    std::mutex mutex_;
    std::condition_variable drained_;
    std::map<uint64_t, int> connection_fds_;
    std::atomic<size_t> active_{0};
    uint64_t next_connection_ = 1;
};

}  // namespace attache::agent
