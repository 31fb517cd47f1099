#include "pkcs11/module_helper/server/worker_pool.h"

#include <thread>

namespace attache::p11::module_helper {

bool WorkerPool::run(std::function<void()> job) {
    std::unique_lock lock(mutex_);
    if (busy_ >= max_threads_)
        return false;
    ++busy_;
    jobs_.push_back(std::move(job));
    if (idle_ >= jobs_.size()) {
        wake_.notify_one();
        return true;
    }
    ++threads_;
    lock.unlock();
    // Workers live as long as the helper, which ends with _exit: never joined.
    std::thread([this] { work(); }).detach();
    return true;
}

size_t WorkerPool::busy() const {
    std::lock_guard lock(mutex_);
    return busy_;
}

void WorkerPool::work() {
    std::unique_lock lock(mutex_);
    for (;;) {
        ++idle_;
        wake_.wait(lock, [&] { return !jobs_.empty(); });
        --idle_;
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        job = nullptr;
        lock.lock();
        --busy_;
    }
}

}  // namespace attache::p11::module_helper
