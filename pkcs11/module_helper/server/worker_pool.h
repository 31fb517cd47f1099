#pragma once

// The helper's threads: one per call in flight, so a C_Sign hung on one session does not hold
// up a C_GetSlotList on another. Threads are kept when idle and reused; at most kMaxInFlight
// run, and a call beyond that is refused at once (the caller answers it CKR_FUNCTION_FAILED).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace attache::p11::module_helper {

class WorkerPool {
  public:
    explicit WorkerPool(size_t max_threads) : max_threads_(max_threads) {}
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // False when max_threads calls are already running.
    bool run(std::function<void()> job);
    // Calls queued or running.
    size_t busy() const;

  private:
    void work();

    const size_t max_threads_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;
    size_t threads_ = 0;
    size_t idle_ = 0;
    size_t busy_ = 0;
};

}  // namespace attache::p11::module_helper
