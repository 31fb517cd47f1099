#include "agent/workstation/bus_loop.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <utility>

#include "agent/core/log.h"

namespace attache::agent {
namespace {

// sd-bus timeouts are absolute CLOCK_MONOTONIC microseconds; poll wants milliseconds from now.
int poll_timeout_ms(sd_bus* bus) {
    uint64_t timeout_us = UINT64_MAX;
    (void)sd_bus_get_timeout(bus, &timeout_us);
    if (timeout_us == UINT64_MAX)
        return -1;
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const uint64_t now =
        static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
    return timeout_us > now ? static_cast<int>((timeout_us - now + 999) / 1000) : 0;
}

}  // namespace

bool run_bus_loop(sd_bus* bus, int stop_fd) {
    for (;;) {
        const int processed = sd_bus_process(bus, nullptr);
        if (processed < 0)
            return false;
        if (processed > 0)
            continue;  // more to process
        pollfd fds[2] = {{sd_bus_get_fd(bus), static_cast<short>(sd_bus_get_events(bus)), 0},
                         {stop_fd, POLLIN, 0}};
        if (poll(fds, 2, poll_timeout_ms(bus)) < 0 && errno != EINTR)
            return false;
        if (fds[1].revents & POLLIN)
            return true;
    }
}

Status BusLoopThread::start(sd_bus* bus, std::string when_lost) {
    stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_.valid())
        return Error(std::string("eventfd: ") + std::strerror(errno));
    thread_ = std::thread([bus, stop_fd = stop_.get(), when_lost = std::move(when_lost)] {
        if (!run_bus_loop(bus, stop_fd))
            log_warning(when_lost);
    });
    return ok();
}

void BusLoopThread::stop() {
    if (thread_.joinable()) {
        uint64_t one = 1;
        (void)!write(stop_.get(), &one, sizeof one);
        thread_.join();
    }
}

}  // namespace attache::agent
