#pragma once

// Waiting for an answer that is due soon, without paying for a sleep and a wake-up.
//
// A thread that sleeps in poll() or recv() until its peer answers costs a cross-CPU wake-up
// when the answer comes: an inter-processor interrupt, and on an idle core (or an idle vCPU,
// which the hypervisor has descheduled) tens of microseconds before the thread runs again.
// Measured on the 2-vCPU machines this project is benchmarked on: a bare Unix-socket round
// trip between two sleeping processes costs ~35 µs, and 80 µs when the answer takes 50 µs to
// compute (the waiting core has gone idle meanwhile) -- more than an EC signature on SoftHSM2.
//
// So both ends of the native protocol wait in two stages when they can predict the answer's
// arrival (the block layer's "hybrid polling" does the same for fast disks):
//   - sleep (ppoll with a timeout) until shortly before the predicted time, then
//   - poll without sleeping, yielding the CPU to anything runnable, for a short window, then
//   - sleep until the data comes, as before.
// The window is small and bounded; answers that are slow or unpredictable (an RSA-4096
// signature, a PIN prompt, a client that thinks) never spin beyond it, and a wait whose answer
// was late makes the next prediction later.

#include <chrono>
#include <cstdint>
#include <vector>

namespace attache::stream {

using Micros = std::chrono::microseconds;

// When a wait for a predicted answer ended.
enum class Arrival {
    unpredicted,  // no prediction: the caller slept until the data came
    early,        // during the sleep (the latency seen includes a wake-up)
    due,          // while polling: the latency seen is the answer's own
    late,         // after the polling window
    contended,    // polling stopped: other tasks wanted the CPU (see spin_until_readable)
};

// Recent latencies per kind of request, each an exponentially weighted mean.
class LatencyHistory {
  public:
    // The predicted latency of `kind`; zero when nothing is known yet.
    Micros expected(uint64_t kind) const;
    // An answer that came while the waiter slept says only that it could have come sooner
    // (its latency includes the wake-up), so the prediction moves earlier, by half a polling
    // window, until answers arrive while the waiter polls; those are measured as they are. A
    // late answer (its latency includes a wake-up too) moves the prediction half-way to it.
    // After a contended poll the next waits of the kind sleep: 1, then twice as many after
    // each further contended poll, up to kMaxPause, until a poll sees its answer come.
    void record(uint64_t kind, Micros latency, Arrival arrival);

    // The most waits of a kind that sleep without a prediction after contended polls.
    static constexpr uint32_t kMaxPause = 64;

  private:
    static constexpr size_t kMaxKinds = 16;
    struct Entry {
        uint64_t kind;
        int64_t mean_us;
        uint32_t pause;    // waits left that sleep (after a contended poll)
        uint32_t backoff;  // the last pause; doubles while polls stay contended
    };
    std::vector<Entry> entries_;  // the most recently used last
};

// How long to poll without sleeping on each side of a predicted arrival: kSpinWindow, or an
// eighth of the prediction when that is longer (longer operations vary more: an RSA-2048
// signature on SoftHSM2 by +-10 %). And the longest predicted wait still worth it (beyond it
// the spin is a small share of the wait, and the prediction less sure).
inline constexpr Micros kSpinWindow{40};
inline constexpr Micros kLongestPredictedWait{5000};
// A shorter sleep costs a wake-up for little saved polling: the wait polls from the start.
inline constexpr Micros kShortestSleep{100};
Micros spin_window(Micros expected);

// Waits, for at most `expected` + spin_window(expected), until `fd` is readable, sleeping only
// until spin_window(expected) before `expected`. Afterwards the caller reads, sleeping if the
// data has not come (Arrival::late, or unpredicted when `expected` is zero or too long to
// predict).
Arrival wait_until_due(int fd, Micros expected);

// A sched_yield() that returns later than this ran another task: the CPUs are not idle.
inline constexpr Micros kYieldTookLong{15};

// Polls `fd` without sleeping for at most `window`, yielding the CPU between polls: due when fd
// became readable, late when the window passed, contended when another task took the CPU.
Arrival spin_until_readable(int fd, Micros window);

}  // namespace attache::stream
