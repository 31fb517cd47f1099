#include "tests/bench/fairness.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/bench/clients.h"

namespace attache::bench {
namespace {

// B's client process opens its client (a checked signature, one card operation) before the
// burst; this leaves it time to, on a loaded machine too.
constexpr int64_t kBurstDelayNs = 1'000'000'000;

struct Sent {
    int64_t sent_ns = 0;
    int64_t answered_ns = 0;
    std::string error;
};

}  // namespace

FairnessSample fairness_sample(Environment& env, WorkerPool& b_process, int burst, int delay_ms) {
    FairnessSample sample;
    auto& fault = env.fairness_fault();
    fault.clear_rules();
    ClientSpec spec;
    spec.kind = Kind::native;
    spec.mech = Mech::ec_p256;
    spec.socket = env.fairness_socket();
    spec.key_id = env.fairness_key().agent_id;
    spec.spki = env.fairness_key().spki;
    spec.label = env.fairness_key().label;
    spec.message = env.message();

    // A's connections, opened (and each checked once) while the card is still fast.
    struct Shared {
        std::mutex m;
        std::condition_variable cv;
        int opened = 0;
        bool go = false;
        int64_t start_ns = 0;
        std::string error;
    } shared;
    std::vector<Sent> sent(static_cast<size_t>(burst));
    std::vector<std::thread> threads;
    for (int i = 0; i < burst; ++i) {
        threads.emplace_back([&, i] {
            auto client = open_client(spec);
            int64_t start = 0;
            {
                std::unique_lock lock(shared.m);
                if (!client && shared.error.empty())
                    shared.error = "client A: " + client.error().message();
                ++shared.opened;
                shared.cv.notify_all();
                shared.cv.wait(lock, [&] { return shared.go; });
                start = shared.start_ns;
            }
            if (!client || start == 0)
                return;
            Sent& s = sent[static_cast<size_t>(i)];
            sleep_until(start);
            s.sent_ns = monotonic_ns();
            auto result = (*client)->op();
            s.answered_ns = monotonic_ns();
            if (!result)
                s.error = result.error().message();
            client = Error("closed");  // in its own thread, as run_threads does
        });
    }
    {
        std::unique_lock lock(shared.m);
        shared.cv.wait(lock, [&] { return shared.opened == burst; });
    }
    const bool opened = shared.error.empty();
    int64_t burst_ns = 0;
    CellResult b;
    RunLimits limits;
    if (opened) {
        fault.delay(faulttoken::Fn::C_Sign, static_cast<uint32_t>(delay_ms));
        burst_ns = monotonic_ns() + kBurstDelayNs;
        {
            std::lock_guard lock(shared.m);
            shared.start_ns = burst_ns;
            shared.go = true;
        }
        shared.cv.notify_all();
        // B: "just after the burst starts", an eighth of a card operation later.
        limits.seconds = 0.001;
        limits.max_ops_per_client = 1;
        limits.start_at_ns = burst_ns + int64_t{delay_ms} * 1'000'000 / 8;
        b = b_process.run(spec, 1, limits);
    } else {
        std::lock_guard lock(shared.m);
        shared.go = true;
        shared.cv.notify_all();
    }
    for (auto& t : threads)
        t.join();
    fault.clear_rules();
    if (!opened) {
        sample.error = shared.error;
        return sample;
    }
    if (!b.ok) {
        sample.error = "client B: " + b.error;
        return sample;
    }
    int64_t last = burst_ns;
    for (const Sent& s : sent) {
        if (!s.error.empty()) {
            sample.error = "client A: " + s.error;
            return sample;
        }
        last = std::max(last, s.answered_ns);
    }
    // B's one operation: its latency, ending at the cell's last completion (timed from B's
    // planned start).
    const int64_t b_answered = limits.start_at_ns + static_cast<int64_t>(b.seconds * 1e9);
    const int64_t b_sent = b_answered - static_cast<int64_t>(b.p50_us * 1e3);
    sample.ok = true;
    sample.b_wait_ms = b.p50_us / 1e3;
    sample.b_offset_ms = static_cast<double>(b_sent - burst_ns) / 1e6;
    sample.a_total_ms = static_cast<double>(last - burst_ns) / 1e6;
    for (const Sent& s : sent)
        sample.a_during_b += s.answered_ns > b_sent && s.answered_ns < b_answered ? 1 : 0;
    return sample;
}

}  // namespace attache::bench
