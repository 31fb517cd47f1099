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

Result<SessionPool::Lease> SessionPool::acquire() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return closed_ || !idle_.empty() || open_ < capacity_; });
    if (closed_)
        return agent_error(ErrorCode::token_absent, "the token was removed");
    if (!idle_.empty()) {
        p11::Session s = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(s), generation_);
    }
    ++open_;
    const uint64_t generation = generation_;
    lock.unlock();
    auto session = module_.open_session(slot_, /*read_write=*/false);
    if (!session) {
        std::lock_guard relock(mutex_);
        --open_;
        available_.notify_one();
        return std::move(session).error();
    }
    return Lease(this, std::move(*session), generation);
}

void SessionPool::give_back(p11::Session session, uint64_t generation, bool discard) {
    std::unique_lock lock(mutex_);
    if (discard || closed_ || generation != generation_) {
        --open_;
        if (generation <= abandoned_through_)
            session.abandon();
        lock.unlock();
        // The session closes here, outside the lock (C_CloseSession may be slow).
        { p11::Session closing = std::move(session); }
        available_.notify_one();
        return;
    }
    idle_.push_back(std::move(session));
    lock.unlock();
    available_.notify_one();
}

void SessionPool::close() {
    std::vector<p11::Session> closing;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        ++generation_;
        open_ -= static_cast<unsigned>(idle_.size());
        closing.swap(idle_);
    }
    available_.notify_all();
}

void SessionPool::abandon_all() {
    {
        std::lock_guard lock(mutex_);
        for (p11::Session& s : idle_)
            s.abandon();
        open_ -= static_cast<unsigned>(idle_.size());
        idle_.clear();
        abandoned_through_ = generation_++;
    }
    available_.notify_all();
}

void SessionPool::reopen() {
    std::lock_guard lock(mutex_);
    closed_ = false;
}

}  // namespace attache::agent
