#pragma once

// The pace of PIN attempts on one token: after n wrong PINs in a row the next C_Login waits
// kFirstDelay * 2^(n-1) after the last one (1 s, 2 s, 4 s ... up to kMaxDelay), whoever asks
// and through whichever socket, so no client can run through a card's retries at machine
// speed. A right PIN ends the series. The card's own retry counter remains the real limit;
// this only slows a client that guesses (and survives no agent restart: docs/threat-model.md).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace attache::agent {

class PinBackoff {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds kFirstDelay{1000};
    static constexpr std::chrono::milliseconds kMaxDelay{32000};

    // The delay after `wrong_in_a_row` wrong PINs (0 for none).
    static std::chrono::milliseconds delay_after(unsigned wrong_in_a_row);

    void record_wrong_pin();
    void record_right_pin();
    unsigned wrong_in_a_row() const;

    // How long until the next attempt is allowed (0: now).
    std::chrono::milliseconds remaining() const;
    // Waits until the next attempt is allowed. Returns false when `stop()` says the wait is
    // over first (a lock, the card's removal); wake() makes it check again.
    bool wait(const std::function<bool()>& stop);
    void wake();

  private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    unsigned wrong_ = 0;
    Clock::time_point next_allowed_{};
};

}  // namespace attache::agent
