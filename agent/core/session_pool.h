#pragma once

// The PKCS#11 sessions of one token. Operations borrow a session, so up to `capacity` of them
// run on the token at once (SoftHSM2 and HSMs run them in parallel; a smartcard's module
// serialises them itself). Sessions are opened on demand and reused. When the token goes away
// the pool is closed: waiting borrowers fail at once, and sessions in use are dropped when
// returned.
//
// Waiting is fair per client: when every session is in use, borrowers queue and a session
// given back goes straight to the next one in round-robin order across clients, first come
// first served within one client. A client's first request waits for at most one operation of
// each other waiting client (plus those running), never behind a whole burst of another's.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "pkcs11/module.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"

namespace attache::agent {

// How many sessions a token's pool may hold. `configured` is workers_per_token; 0 picks the
// default: max(cores, 8). More sessions than cores pays: a request waiting in the pool costs a
// wake-up hand-off that one waiting inside the module does not, and a module that serialises
// its card does so itself. Sessions open only on demand, so an idle token holds few. Either way
// the token's ulMaxSessionCount, when finite, caps the pool one below it (the agent's control
// session, for login and key scans, needs one too).
unsigned session_pool_capacity(unsigned configured, unsigned cores, CK_ULONG token_max_sessions);

// Whom the pool is fair between: one value per client (request/context.h's client_key: the
// client process). Requests of one client share a queue.
using PoolClient = uint64_t;

class SessionPool {
    struct Source;

  public:
    // The token's own module is source 0.
    SessionPool(p11::Module module, CK_SLOT_ID slot, unsigned capacity);

    class Lease {
      public:
        Lease(SessionPool* pool, p11::Session session, std::shared_ptr<Source> source,
              uint64_t generation)
            : pool_(pool),
              session_(std::move(session)),
              source_(std::move(source)),
              generation_(generation) {}
        ~Lease();
        Lease(Lease&& other) noexcept;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Lease& operator=(Lease&&) = delete;

        p11::Session& operator*() { return *session_; }
        p11::Session* operator->() { return &*session_; }
        // The session is broken (device error): close it rather than reuse it.
        void discard() { discard_ = true; }
        // Which source the session is of (0: the token's own module), and that module.
        uint32_t source() const;
        const p11::Module& module() const;

      private:
        SessionPool* pool_;
        std::optional<p11::Session> session_;
        std::shared_ptr<Source> source_;
        uint64_t generation_;
        bool discard_ = false;
    };

    // Borrows a session for `client`, waiting in its turn while all are in use. Fails when the
    // pool is closed.
    Result<Lease> acquire(PoolClient client = 0);
    // Closes idle sessions and fails waiters; later acquire() calls fail until reopen().
    void close();
    void reopen();
    // The module closed every session of the slot (C_CloseAllSessions): the pool forgets them
    // without C_CloseSession (the module may hand their numbers out again); sessions in use
    // are forgotten when given back. The pool stays open.
    void abandon_all();
    unsigned capacity() const { return capacity_; }
    // Borrowers waiting for a session now.
    size_t waiting() const;

    // Another module serving the same token (a further helper, logged in): leases may come
    // from it from now on. Returns its source number (never 0).
    uint32_t add_source(p11::Module module, CK_SLOT_ID slot);
    // Source `id` serves no more leases: its idle sessions close, and those in use close when
    // given back. Source 0 stays.
    void remove_source(uint32_t id);

  private:
    struct Source {
        p11::Module module;
        CK_SLOT_ID slot;
        uint32_t id;
        unsigned open = 0;    // idle + leased (+ being opened)
        unsigned leased = 0;  // in use by an operation
        bool removed = false;
    };
    // An idle session and where it is from.
    struct Pooled {
        p11::Session session;
        std::shared_ptr<Source> source;
    };

    // One borrower waiting for its turn; lives on its own stack (no allocation per wait).
    struct Waiter {
        PoolClient client;
        uint64_t round = 0;  // its place in the round-robin: the client's n-th waiting request
        Waiter* prev = nullptr;
        Waiter* next = nullptr;
        std::condition_variable turn;
        enum class Outcome { waiting, session, open_one, closed } outcome = Outcome::waiting;
        std::optional<Pooled> session;   // Outcome::session
        std::shared_ptr<Source> source;  // Outcome::open_one: where to open it
        uint64_t generation = 0;
    };

    void give_back(p11::Session session, std::shared_ptr<Source> source, uint64_t generation,
                   bool discard);
    Result<Lease> open_new(std::shared_ptr<Source> source, uint64_t generation);
    // The idle session of the source with the fewest in use, taken out of idle_ and counted as
    // leased; requires !idle_.empty().
    Pooled take_idle_locked();
    // The source a new session opens on (the fewest open), counted as opening one.
    std::shared_ptr<Source> reserve_open_locked();
    void enqueue_locked(Waiter& w);
    Waiter* pop_locked();
    // Hands idle sessions, or the right to open one, to the waiters at the head of the queue.
    void serve_waiters_locked();

    const unsigned capacity_;
    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<Source>> sources_;  // those not removed; [0] is the token's own
    uint32_t next_source_ = 1;
    std::vector<Pooled> idle_;
    unsigned open_ = 0;  // sessions open: idle + leased (+ being opened)
    bool closed_ = false;
    uint64_t generation_ = 1;
    uint64_t abandoned_through_ = 0;  // sessions of this generation and older are abandoned
    // The waiters in the order they are served: by round, then by arrival. Never non-empty
    // while a session is idle or another may be opened.
    Waiter* head_ = nullptr;
    Waiter* tail_ = nullptr;
    size_t waiting_ = 0;
    uint64_t served_round_ = 0;  // the round of the waiter served last
};

}  // namespace attache::agent
