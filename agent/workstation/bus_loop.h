#pragma once

// The event loop of one sd-bus connection on a thread of its own: process what arrived, then
// poll the bus (with sd-bus's own timeout for pending calls) and a stop eventfd.

#include <systemd/sd-bus.h>

#include <string>
#include <thread>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/result.h"

namespace attache::agent {

// Runs until `stop_fd` is readable (true) or the bus is lost or poll fails (false).
bool run_bus_loop(sd_bus* bus, int stop_fd);

// run_bus_loop on a thread of its own, until stop() (or destruction). The bus must outlive it.
class BusLoopThread {
  public:
    BusLoopThread() = default;
    ~BusLoopThread() { stop(); }
    BusLoopThread(const BusLoopThread&) = delete;
    BusLoopThread& operator=(const BusLoopThread&) = delete;

    // `when_lost` is logged as a warning if the bus is lost before stop().
    Status start(sd_bus* bus, std::string when_lost);
    // Wakes the loop and joins its thread; nothing once stopped or never started.
    void stop();

  private:
    UniqueFd stop_;  // eventfd
    std::thread thread_;
};

}  // namespace attache::agent
