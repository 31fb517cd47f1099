#include "agent/core/restart_backoff.h"

#include <algorithm>

namespace attache::agent {

void RestartBackoff::started(Clock::time_point now) {
    started_ = now;
}

std::chrono::seconds RestartBackoff::stopped(Clock::time_point now) {
    if (now - started_ >= kHealthyRun)
        in_a_row_ = 0;
    return next();
}

std::chrono::seconds RestartBackoff::start_failed() {
    return next();
}

std::chrono::seconds RestartBackoff::next() {
    // 1 s << 6 is past the ceiling already: no need to shift further.
    const int shift = std::min(in_a_row_, 6);
    ++in_a_row_;
    return std::min<std::chrono::seconds>(kFirst * (1 << shift), kMost);
}

}  // namespace attache::agent
