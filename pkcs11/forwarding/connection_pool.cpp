#include "pkcs11/forwarding/connection_pool.h"

#include <poll.h>

#include <cerrno>

#include "pkcs11/forwarding/agent_errors.h"
#include "pkcs11/forwarding/fd_registry.h"
#include "pkcs11/forwarding/identity.h"
#include "pkcs11/forwarding/log.h"

namespace attache::forwarding {
namespace {

// Idle connections kept for reuse; more busy ones may exist up to kMaxConnections.
constexpr size_t kMaxIdle = 16;

Error transport(std::string message, TransportCode code) {
    return Error(std::move(message)).with_code(code);
}

// A kept connection on which the agent sent something unasked, or which it closed, is dead.
bool still_open(int fd) {
    pollfd p{fd, POLLIN, 0};
    int r;
    do {
        r = poll(&p, 1, 0);
    } while (r < 0 && errno == EINTR);
    return r == 0;
}

std::string client_name() {
    return std::string(kClientName) + " (" +
           (program_invocation_short_name ? program_invocation_short_name : "?") + ")";
}

}  // namespace

struct ConnectionPool::Connection {
    explicit Connection(protocol::Client c) : client(std::move(c)) {
        entry = register_fd(client.fd());
    }
    ~Connection() { unregister_fd(entry); }  // before the Client closes its descriptor
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    protocol::Client client;
    int entry = -1;
};

ConnectionPool::ConnectionPool(protocol::AgentEndpoint endpoint)
    : endpoint_(std::move(endpoint)), client_name_(client_name()) {}

ConnectionPool::~ConnectionPool() = default;

uint64_t ConnectionPool::epoch() const {
    std::lock_guard lock(mutex_);
    return epoch_;
}

Result<std::unique_ptr<ConnectionPool::Connection>> ConnectionPool::connect_new() {
    auto client = protocol::Client::connect(endpoint_, client_name_);
    if (!client)
        return transport(client.error().message(), kAgentUnreachable);
    auto c = std::make_unique<Connection>(std::move(*client));
    // Which agent is this? A restarted agent has another pid.
    auto reply = c->client.call(protocol::StatusRequest{});
    if (!reply)
        return transport(reply.error().message(), kAgentBroken);
    const auto* status = std::get_if<protocol::StatusReply>(&*reply);
    if (status == nullptr)
        return transport("attache-agent did not answer the status request", kAgentBroken);
    std::lock_guard lock(mutex_);
    if (agent_pid_ != 0 && status->pid != agent_pid_) {
        ++epoch_;
        debug("attache-agent was restarted (pid " + std::to_string(agent_pid_) + " -> " +
              std::to_string(status->pid) + "): sessions of the old agent are invalid");
    }
    agent_pid_ = status->pid;
    return c;
}

Result<std::unique_ptr<ConnectionPool::Connection>> ConnectionPool::acquire(bool& reused) {
    for (;;) {
        std::unique_lock lock(mutex_);
        available_.wait(
            lock, [&] { return !idle_.empty() || open_ < static_cast<size_t>(kMaxConnections); });
        if (!idle_.empty()) {
            std::unique_ptr<Connection> c = std::move(idle_.back());
            idle_.pop_back();
            lock.unlock();
            if (still_open(c->client.fd())) {
                reused = true;
                return c;
            }
            c.reset();
            lock.lock();
            --open_;
            available_.notify_one();
            continue;
        }
        ++open_;
        lock.unlock();
        reused = false;
        auto c = connect_new();
        if (!c) {
            lock.lock();
            --open_;
            available_.notify_one();
        }
        return c;
    }
}

void ConnectionPool::release(std::unique_ptr<Connection> c, bool keep) {
    std::lock_guard lock(mutex_);
    if (keep && idle_.size() < kMaxIdle) {
        idle_.push_back(std::move(c));
    } else {
        c.reset();
        --open_;
    }
    available_.notify_one();
}

Result<protocol::Reply> ConnectionPool::call(const protocol::Request& request, uint64_t epoch,
                                             bool may_retry) {
    for (int attempt = 0;; ++attempt) {
        bool reused = false;
        auto c = acquire(reused);
        if (!c)
            return std::move(c).error();
        if (epoch != 0 && this->epoch() != epoch) {
            release(std::move(*c), true);
            return transport("the session belongs to an attache-agent that is gone",
                             kAgentReplaced);
        }
        auto reply = (*c)->client.call(request);
        if (reply) {
            release(std::move(*c), true);
            return reply;
        }
        release(std::move(*c), false);
        if (!(reused && may_retry && attempt == 0))
            return transport(reply.error().message(), kAgentBroken);
        debug("a kept connection failed (" + reply.error().message() + "); retrying once");
    }
}

}  // namespace attache::forwarding
