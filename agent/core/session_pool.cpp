#include "agent/core/session_pool.h"

#include "agent/core/agent_error.h"

#include <algorithm>

namespace attache::agent {

unsigned session_pool_capacity(unsigned configured, unsigned cores, CK_ULONG token_max_sessions) {
    constexpr unsigned kDefaultFloor = 8;
    unsigned capacity = configured != 0 ? configured : std::max(cores, kDefaultFloor);
    const bool finite = token_max_sessions != CK_EFFECTIVELY_INFINITE &&
                        token_max_sessions != CK_UNAVAILABLE_INFORMATION;
    if (finite && token_max_sessions <= capacity)
        capacity = token_max_sessions > 1 ? static_cast<unsigned>(token_max_sessions - 1) : 1;
    return std::max(capacity, 1u);
}

SessionPool::SessionPool(p11::Module module, CK_SLOT_ID slot, unsigned capacity)
    : module_(std::move(module)), slot_(slot), capacity_(capacity == 0 ? 1 : capacity) {}

SessionPool::Lease::~Lease() {
    if (session_)
        pool_->give_back(std::move(*session_), generation_, discard_);
}

SessionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_),
      session_(std::move(other.session_)),
      generation_(other.generation_),
      discard_(other.discard_) {
    other.session_.reset();
}

Result<SessionPool::Lease> SessionPool::acquire(PoolClient client) {
    std::unique_lock lock(mutex_);
    if (closed_)
        return agent_error(ErrorCode::token_absent, "the token was removed");
    // Nobody waits while a session is idle or another may be opened (serve_waiters_locked):
    // a borrower that finds no queue takes one at once, without a turn to wait for.
    if (head_ == nullptr) {
        if (!idle_.empty()) {
            p11::Session s = std::move(idle_.back());
            idle_.pop_back();
            return Lease(this, std::move(s), generation_);
        }
        if (open_ < capacity_) {
            ++open_;
            const uint64_t generation = generation_;
            lock.unlock();
            return open_new(generation);
        }
    }
    Waiter w{.client = client};
    enqueue_locked(w);
    w.turn.wait(lock, [&] { return w.outcome != Waiter::Outcome::waiting; });
    switch (w.outcome) {
        case Waiter::Outcome::session:
            return Lease(this, std::move(*w.session), w.generation);
        case Waiter::Outcome::open_one:
            lock.unlock();
            return open_new(w.generation);
        default:
            return agent_error(ErrorCode::token_absent, "the token was removed");
    }
}

// open_ already counts the session being opened.
Result<SessionPool::Lease> SessionPool::open_new(uint64_t generation) {
    auto session = module_.open_session(slot_, /*read_write=*/false);
    if (!session) {
        std::lock_guard relock(mutex_);
        --open_;
        serve_waiters_locked();
        return std::move(session).error();
    }
    return Lease(this, std::move(*session), generation);
}

void SessionPool::enqueue_locked(Waiter& w) {
    // The client's next round after its last waiting request; a client with none waiting
    // joins the round being served next.
    w.round = served_round_ + 1;
    for (Waiter* o = tail_; o != nullptr; o = o->prev) {
        if (o->client == w.client) {
            w.round = o->round + 1;
            break;
        }
    }
    // After every waiter of an earlier or the same round.
    Waiter* after = tail_;
    while (after != nullptr && after->round > w.round)
        after = after->prev;
    w.prev = after;
    w.next = after != nullptr ? after->next : head_;
    (w.next != nullptr ? w.next->prev : tail_) = &w;
    (after != nullptr ? after->next : head_) = &w;
    ++waiting_;
}

SessionPool::Waiter* SessionPool::pop_locked() {
    Waiter* w = head_;
    head_ = w->next;
    (head_ != nullptr ? head_->prev : tail_) = nullptr;
    w->next = nullptr;
    --waiting_;
    served_round_ = w->round;
    return w;
}

// The waiter is woken under the lock: it cannot return (and take its condition variable with
// it) before the lock is released.
void SessionPool::serve_waiters_locked() {
    while (head_ != nullptr && !closed_ && (!idle_.empty() || open_ < capacity_)) {
        Waiter* w = pop_locked();
        w->generation = generation_;
        if (!idle_.empty()) {
            w->session.emplace(std::move(idle_.back()));
            idle_.pop_back();
            w->outcome = Waiter::Outcome::session;
        } else {
            ++open_;
            w->outcome = Waiter::Outcome::open_one;
        }
        w->turn.notify_one();
    }
}

void SessionPool::give_back(p11::Session session, uint64_t generation, bool discard) {
    std::unique_lock lock(mutex_);
    if (discard || closed_ || generation != generation_) {
        --open_;
        if (generation <= abandoned_through_)
            session.abandon();
        lock.unlock();
        // The session closes here, outside the lock (C_CloseSession may be slow), and before a
        // waiter opens another (a card may allow no more).
        { p11::Session closing = std::move(session); }
        lock.lock();
        serve_waiters_locked();
        return;
    }
    if (head_ != nullptr) {
        // Straight to the next in turn: no borrower arriving meanwhile can take it first.
        Waiter* w = pop_locked();
        w->generation = generation_;
        w->session.emplace(std::move(session));
        w->outcome = Waiter::Outcome::session;
        w->turn.notify_one();
        return;
    }
    idle_.push_back(std::move(session));
}

void SessionPool::close() {
    std::vector<p11::Session> closing;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        ++generation_;
        open_ -= static_cast<unsigned>(idle_.size());
        closing.swap(idle_);
        while (head_ != nullptr) {
            Waiter* w = pop_locked();
            w->outcome = Waiter::Outcome::closed;
            w->turn.notify_one();
        }
    }
}

void SessionPool::abandon_all() {
    std::lock_guard lock(mutex_);
    for (p11::Session& s : idle_)
        s.abandon();
    open_ -= static_cast<unsigned>(idle_.size());
    idle_.clear();
    abandoned_through_ = generation_++;
    serve_waiters_locked();
}

void SessionPool::reopen() {
    std::lock_guard lock(mutex_);
    closed_ = false;
}

size_t SessionPool::waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_;
}

}  // namespace attache::agent
