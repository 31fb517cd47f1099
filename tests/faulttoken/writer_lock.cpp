#include "tests/faulttoken/writer_lock.h"

#include <chrono>
#include <thread>

namespace attache::faulttoken {

WriterLock::WriterLock(ControlBlock& block) : block_(block) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point give_up = Clock::now() + std::chrono::seconds(1);
    while (block_.writer_lock.exchange(1, std::memory_order_acquire) != 0) {
        if (Clock::now() > give_up) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
}

WriterLock::~WriterLock() {
    block_.writer_lock.store(0, std::memory_order_release);
}

}  // namespace attache::faulttoken
