#include "pkcs11/stream/reply_wait.h"

#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>

namespace attache::stream {
namespace {

using Clock = std::chrono::steady_clock;

// The timer slack of the calling thread: how late the kernel may fire its timers (50 µs for an
// ordinary thread). The sleep ends that much earlier, so a late timer still lands before the
// answer; the caller's thread setting is read, never changed.
Micros timer_slack() {
    const int slack_ns = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    return slack_ns > 0 ? std::chrono::duration_cast<Micros>(std::chrono::nanoseconds(slack_ns))
                        : Micros(0);
}

bool readable_within(int fd, const timespec* timeout) {
    pollfd p{fd, POLLIN, 0};
    return ppoll(&p, 1, timeout, nullptr) > 0;
}

}  // namespace

Micros LatencyHistory::expected(uint64_t kind) const {
    for (const auto& e : entries_) {
        if (e.kind == kind)
            return e.pause != 0 ? Micros(0) : Micros(e.mean_us);
    }
    return Micros(0);
}

void LatencyHistory::record(uint64_t kind, Micros latency, Arrival arrival) {
    const int64_t us = std::max<int64_t>(1, latency.count());
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return e.kind == kind; });
    if (it == entries_.end()) {
        if (entries_.size() == kMaxKinds)
            entries_.erase(entries_.begin());  // the kind used longest ago
        entries_.push_back({kind, us, 0, 0});
        return;
    }
    Entry& e = *it;
    switch (arrival) {
        case Arrival::unpredicted:
            if (e.pause != 0)
                --e.pause;  // the latency seen includes a wake-up: keep the mean
            else
                e.mean_us = us;
            break;
        case Arrival::early:
            // Step earlier by half a window: the answer then comes while polling, or early
            // again.
            e.mean_us = std::max<int64_t>(
                1, std::min(us, e.mean_us) - spin_window(Micros(e.mean_us)).count() / 2);
            break;
        case Arrival::due:
            e.backoff = 0;
            // Mean over roughly the last eight answers; a slower one raises it at once (the
            // next wait then sleeps longer), a faster one lowers it gradually.
            e.mean_us = us > e.mean_us ? us : e.mean_us + (us - e.mean_us) / 8;
            break;
        case Arrival::late:
            e.mean_us += (us - e.mean_us) / 2;
            break;
        case Arrival::contended:
            // Back off exponentially while contention lasts; a lone one (a vCPU preempted by
            // its host, an interrupt) costs one wait.
            e.backoff = std::min(kMaxPause, e.backoff == 0 ? 1 : e.backoff * 2);
            e.pause = e.backoff;
            break;
    }
    std::rotate(it, it + 1, entries_.end());
}

Arrival spin_until_readable(int fd, Micros window) {
    const auto end = Clock::now() + window;
    const timespec zero{0, 0};
    for (;;) {
        if (readable_within(fd, &zero))
            return Arrival::due;
        const auto before = Clock::now();
        if (before >= end)
            return Arrival::late;
        sched_yield();  // anything runnable on this CPU (the peer, perhaps) goes first
        // A yield that took long means another task wanted this CPU and ran: the CPUs are
        // busy, and polling only takes time from work (the agent's, the token's). Stop.
        if (Clock::now() - before > kYieldTookLong)
            return Arrival::contended;
    }
}

Micros spin_window(Micros expected) {
    return std::max(kSpinWindow, expected / 8);
}

Arrival wait_until_due(int fd, Micros expected) {
    if (expected.count() <= 0 || expected > kLongestPredictedWait)
        return Arrival::unpredicted;
    const auto start = Clock::now();
    const Micros window = spin_window(expected);
    const Micros sleep = expected - window - timer_slack();
    if (sleep >= kShortestSleep) {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(sleep).count();
        const timespec timeout{static_cast<time_t>(ns / 1'000'000'000),
                               static_cast<long>(ns % 1'000'000'000)};
        if (readable_within(fd, &timeout))
            return Arrival::early;
    }
    const auto spin_end = start + expected + window;
    const auto now = Clock::now();
    if (now >= spin_end)
        return Arrival::late;
    return spin_until_readable(fd, std::chrono::duration_cast<Micros>(spin_end - now));
}

}  // namespace attache::stream
