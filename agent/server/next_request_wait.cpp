#include "agent/server/next_request_wait.h"

#include <atomic>
#include <thread>

namespace attache::agent {
namespace {

std::atomic<unsigned> g_polling{0};

unsigned polling_limit() {
    static const unsigned limit = [] {
        const unsigned cores = std::thread::hardware_concurrency();
        return cores > 1 ? cores - 1 : 0;  // one core: polling would only delay the client
    }();
    return limit;
}

}  // namespace

void NextRequestWait::before_read(int fd) {
    replied_ = Clock::now();
    if (!client_is_quick_)
        return;
    if (g_polling.fetch_add(1, std::memory_order_relaxed) < polling_limit()) {
        contended_ = stream::spin_until_readable(fd, kWindow) == stream::Arrival::contended;
    }
    g_polling.fetch_sub(1, std::memory_order_relaxed);
}

void NextRequestWait::after_read() {
    if (replied_ == Clock::time_point{})
        return;  // the first request
    // Busy CPUs (a contended poll) make the next wait sleep, however quick the client was.
    client_is_quick_ = !contended_ && Clock::now() - replied_ <= kWindow;
    contended_ = false;
}

}  // namespace attache::agent
