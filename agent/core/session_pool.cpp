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
    : capacity_(capacity == 0 ? 1 : capacity) {
    sources_.push_back(std::make_shared<Source>(Source{std::move(module), slot, 0}));
}

SessionPool::Lease::~Lease() {
    if (session_)
        pool_->give_back(std::move(*session_), std::move(source_), generation_, discard_);
}

SessionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_),
      session_(std::move(other.session_)),
      source_(std::move(other.source_)),
      generation_(other.generation_),
      discard_(other.discard_) {
    other.session_.reset();
}

uint32_t SessionPool::Lease::source() const {
    return source_->id;
}

const p11::Module& SessionPool::Lease::module() const {
    return source_->module;
}

SessionPool::Pooled SessionPool::take_idle_locked() {
    // The most recently returned session of the least busy source: one client alone keeps
    // using one session (and one helper, whose polling for its next call then pays).
    auto best = idle_.end() - 1;
    for (auto it = idle_.end() - 1; it != idle_.begin();) {
        --it;
        if (it->source->leased < best->source->leased)
            best = it;
    }
    Pooled taken = std::move(*best);
    idle_.erase(best);
    ++taken.source->leased;
    return taken;
}

std::shared_ptr<SessionPool::Source> SessionPool::reserve_open_locked() {
    std::shared_ptr<Source> best = sources_.front();
    for (const auto& s : sources_) {
        if (s->open < best->open)
            best = s;
    }
    ++best->open;
    ++best->leased;
    ++open_;
    return best;
}

Result<SessionPool::Lease> SessionPool::acquire(PoolClient client) {
    std::unique_lock lock(mutex_);
    if (closed_)
        return agent_error(ErrorCode::token_absent, "the token was removed");
    // Nobody waits while a session is idle or another may be opened (serve_waiters_locked):
    // a borrower that finds no queue takes one at once, without a turn to wait for.
    if (head_ == nullptr) {
        if (!idle_.empty()) {
            Pooled p = take_idle_locked();
            return Lease(this, std::move(p.session), std::move(p.source), generation_);
        }
        if (open_ < capacity_) {
            auto source = reserve_open_locked();
            const uint64_t generation = generation_;
            lock.unlock();
            return open_new(std::move(source), generation);
        }
    }
    Waiter w{.client = client};
    enqueue_locked(w);
    w.turn.wait(lock, [&] { return w.outcome != Waiter::Outcome::waiting; });
    switch (w.outcome) {
        case Waiter::Outcome::session:
            return Lease(this, std::move(w.session->session), std::move(w.session->source),
                         w.generation);
        case Waiter::Outcome::open_one:
            lock.unlock();
            return open_new(std::move(w.source), w.generation);
        default:
            return agent_error(ErrorCode::token_absent, "the token was removed");
    }
}

// reserve_open_locked already counted the session being opened.
Result<SessionPool::Lease> SessionPool::open_new(std::shared_ptr<Source> source,
                                                 uint64_t generation) {
    auto session = source->module.open_session(source->slot, /*read_write=*/false);
    if (!session) {
        std::lock_guard relock(mutex_);
        --open_;
        --source->open;
        --source->leased;
        serve_waiters_locked();
        return std::move(session).error();
    }
    return Lease(this, std::move(*session), std::move(source), generation);
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
            w->session.emplace(take_idle_locked());
            w->outcome = Waiter::Outcome::session;
        } else {
            w->source = reserve_open_locked();
            w->outcome = Waiter::Outcome::open_one;
        }
        w->turn.notify_one();
    }
}

void SessionPool::give_back(p11::Session session, std::shared_ptr<Source> source,
                            uint64_t generation, bool discard) {
    std::unique_lock lock(mutex_);
    --source->leased;
    if (discard || closed_ || source->removed || generation != generation_) {
        --open_;
        --source->open;
        if (generation <= abandoned_through_)
            session.abandon();
        lock.unlock();
        // The session closes here, outside the lock (C_CloseSession may be slow), and before a
        // waiter opens another (a card may allow no more).
        {
            p11::Session closing = std::move(session);
            source.reset();
        }
        lock.lock();
        serve_waiters_locked();
        return;
    }
    if (head_ != nullptr) {
        // Straight to the next in turn: no borrower arriving meanwhile can take it first.
        Waiter* w = pop_locked();
        w->generation = generation_;
        ++source->leased;
        w->session.emplace(Pooled{std::move(session), std::move(source)});
        w->outcome = Waiter::Outcome::session;
        w->turn.notify_one();
        return;
    }
    idle_.push_back({std::move(session), std::move(source)});
}

void SessionPool::close() {
    std::vector<Pooled> closing;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        ++generation_;
        for (Pooled& p : idle_)
            --p.source->open;
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
    for (Pooled& p : idle_) {
        p.session.abandon();
        --p.source->open;
    }
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

uint32_t SessionPool::add_source(p11::Module module, CK_SLOT_ID slot) {
    std::lock_guard lock(mutex_);
    const uint32_t id = next_source_++;
    // No waiter to serve: the capacity counts the sessions of every source.
    sources_.push_back(std::make_shared<Source>(Source{std::move(module), slot, id}));
    return id;
}

void SessionPool::remove_source(uint32_t id) {
    std::vector<Pooled> closing;
    std::unique_lock lock(mutex_);
    if (id == 0)
        return;
    auto it =
        std::find_if(sources_.begin(), sources_.end(), [id](const auto& s) { return s->id == id; });
    if (it == sources_.end())
        return;
    (*it)->removed = true;
    sources_.erase(it);
    for (auto p = idle_.begin(); p != idle_.end();) {
        if (p->source->id == id) {
            --p->source->open;
            --open_;
            closing.push_back(std::move(*p));
            p = idle_.erase(p);
        } else {
            ++p;
        }
    }
    lock.unlock();
    closing.clear();  // C_CloseSession outside the lock
    lock.lock();
    serve_waiters_locked();
}

}  // namespace attache::agent
