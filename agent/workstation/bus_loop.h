#pragma once

// The event loop of one sd-bus connection on a thread of its own: process what arrived, then
// poll the bus (with sd-bus's own timeout for pending calls) and a stop eventfd.

#include <systemd/sd-bus.h>

namespace attache::agent {

// Runs until `stop_fd` is readable (true) or the bus is lost or poll fails (false).
bool run_bus_loop(sd_bus* bus, int stop_fd);

}  // namespace attache::agent
