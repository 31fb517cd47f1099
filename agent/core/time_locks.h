#pragma once

// The idle and maximum-unlocked locks, on a thread of their own: a token is locked on time
// whatever its module or any other is doing. The lock itself never waits for a module
// (Token::lock_now); the logout that follows runs on a thread of its own per lock, so a module
// hung in another call delays that logout only, never the next token's lock.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/token.h"

namespace attache::agent {

struct TimeLockSettings {
    std::chrono::seconds idle{0};          // lock after this long without an operation; 0: never
    std::chrono::seconds max_unlocked{0};  // lock this long after the unlock; 0: never
};

class TimeLocks {
  public:
    using TokenSource = std::function<std::vector<std::shared_ptr<Token>>()>;
    using EventLog = std::function<void(const std::string&)>;

    TimeLocks(TimeLockSettings settings, TokenSource tokens, EventLog log);
    ~TimeLocks();
    TimeLocks(const TimeLocks&) = delete;
    TimeLocks& operator=(const TimeLocks&) = delete;

    void start();
    // Ends the thread, and waits a while for logouts still running (a hung module's may not
    // return: its thread is left to finish on its own).
    void stop();
    // Locks the tokens that are due now (the thread's work; public for tests).
    void apply();

  private:
    // When the next lock may be due.
    std::chrono::steady_clock::time_point next_due() const;

    const TimeLockSettings settings_;
    TokenSource tokens_;
    EventLog log_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
    struct Logouts;  // the logouts still running, shared with their threads
    std::shared_ptr<Logouts> logouts_;
};

}  // namespace attache::agent
