#include "agent/core/pin_backoff.h"

#include <algorithm>

namespace attache::agent {

std::chrono::milliseconds PinBackoff::delay_after(unsigned wrong_in_a_row) {
    if (wrong_in_a_row == 0)
        return std::chrono::milliseconds(0);
    const unsigned doublings = std::min(wrong_in_a_row - 1, 16u);
    return std::min(kMaxDelay, kFirstDelay * (int64_t{1} << doublings));
}

void PinBackoff::record_wrong_pin() {
    std::lock_guard lock(mutex_);
    ++wrong_;
    next_allowed_ = Clock::now() + delay_after(wrong_);
    changed_.notify_all();
}

void PinBackoff::record_right_pin() {
    std::lock_guard lock(mutex_);
    wrong_ = 0;
    next_allowed_ = {};
    changed_.notify_all();
}

unsigned PinBackoff::wrong_in_a_row() const {
    std::lock_guard lock(mutex_);
    return wrong_;
}

std::chrono::milliseconds PinBackoff::remaining() const {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    if (next_allowed_ <= now)
        return std::chrono::milliseconds(0);
    return std::chrono::ceil<std::chrono::milliseconds>(next_allowed_ - now);
}

bool PinBackoff::wait(const std::function<bool()>& stop) {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (stop())
            return false;
        if (Clock::now() >= next_allowed_)
            return true;
        changed_.wait_until(lock, next_allowed_);
    }
}

void PinBackoff::wake() {
    std::lock_guard lock(mutex_);
    changed_.notify_all();
}

}  // namespace attache::agent
