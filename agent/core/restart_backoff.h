#pragma once

// How long the agent waits before starting a module's helper again after it stopped: 1 s after
// the first stop, then twice as long after each stop that followed a short run (2 s, 4 s, ...
// at most 60 s); a helper that ran a while before it stopped is restarted after 1 s again.

#include <chrono>

namespace attache::agent {

class RestartBackoff {
  public:
    using Clock = std::chrono::steady_clock;

    static constexpr std::chrono::seconds kFirst{1};
    static constexpr std::chrono::seconds kMost{60};
    // A run this long counts as healthy: the next stop starts over at kFirst.
    static constexpr std::chrono::seconds kHealthyRun{60};

    // The helper started (or started again) at `now`.
    void started(Clock::time_point now);
    // The helper stopped at `now`: the wait before the next start.
    std::chrono::seconds stopped(Clock::time_point now);
    // A start failed: the wait before the next try (the delay keeps doubling).
    std::chrono::seconds start_failed();

  private:
    std::chrono::seconds next();

    Clock::time_point started_{};
    int in_a_row_ = 0;  // stops and failed starts since the last healthy run
};

}  // namespace attache::agent
