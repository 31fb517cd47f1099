#include "agent/core/time_locks.h"

namespace attache::agent {

// How long stop() waits for logouts still running.
constexpr std::chrono::seconds kLogoutGrace{5};

struct TimeLocks::Logouts {
    std::mutex mutex;
    std::condition_variable done;
    int running = 0;
};

TimeLocks::TimeLocks(TimeLockSettings settings, TokenSource tokens, EventLog log)
    : settings_(settings),
      tokens_(std::move(tokens)),
      log_(std::move(log)),
      logouts_(std::make_shared<Logouts>()) {}

TimeLocks::~TimeLocks() {
    stop();
}

void TimeLocks::start() {
    if (settings_.idle.count() == 0 && settings_.max_unlocked.count() == 0)
        return;
    thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            const auto due = next_due();
            if (wake_.wait_until(lock, due, [this] { return stopping_; }))
                break;
            lock.unlock();
            apply();
            lock.lock();
        }
    });
}

void TimeLocks::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
    std::unique_lock lock(logouts_->mutex);
    logouts_->done.wait_for(lock, kLogoutGrace, [this] { return logouts_->running == 0; });
}

std::chrono::steady_clock::time_point TimeLocks::next_due() const {
    using std::chrono::steady_clock;
    const auto idle = settings_.idle;
    const auto most = settings_.max_unlocked;
    // A token unlocked after this wait began is due no earlier than one period from now, so
    // waking at least once a period keeps every lock on time without a word from unlock.
    const auto period = idle.count() == 0 ? most : most.count() == 0 ? idle : std::min(idle, most);
    auto due = steady_clock::now() + period;
    for (const auto& t : tokens_()) {
        if (!t->unlocked())
            continue;
        if (idle.count() > 0)
            due = std::min(due, t->last_used() + idle);
        if (most.count() > 0)
            due = std::min(due, t->unlocked_at() + most);
    }
    return due;
}

void TimeLocks::apply() {
    const auto now = Token::Clock::now();
    for (const auto& t : tokens_()) {
        if (!t->unlocked())
            continue;
        const char* reason = nullptr;
        if (settings_.idle.count() > 0 && now - t->last_used() >= settings_.idle)
            reason = "idle";
        else if (settings_.max_unlocked.count() > 0 &&
                 now - t->unlocked_at() >= settings_.max_unlocked)
            reason = "maximum unlocked time";
        if (reason == nullptr || !t->lock_now(reason))
            continue;
        log_("token " + t->display_name() + " locked: " + reason);
        // The logout may wait behind a call hung in the token's module; the token refuses
        // every operation already.
        {
            std::lock_guard lock(logouts_->mutex);
            ++logouts_->running;
        }
        std::thread([t, logouts = logouts_] {
            t->end_login();
            std::lock_guard lock(logouts->mutex);
            --logouts->running;
            logouts->done.notify_all();
        }).detach();
    }
}

}  // namespace attache::agent
