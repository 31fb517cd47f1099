#pragma once

// logind's "delay" sleep inhibitor: while it is held, logind waits (up to InhibitDelayMaxSec)
// after PrepareForSleep(true) before the machine sleeps, so the tokens are logged out first.
// Asked asynchronously: a bus without logind (or a slow one) never holds the caller's thread.
// Used from the thread that runs the bus.

#include <systemd/sd-bus.h>

#include <string>

#include "pkcs11/agent_protocol/unique_fd.h"

namespace attache::agent {

class SleepInhibitor {
  public:
    SleepInhibitor(std::string who, std::string why) : who_(std::move(who)), why_(std::move(why)) {}
    ~SleepInhibitor();
    SleepInhibitor(const SleepInhibitor&) = delete;
    SleepInhibitor& operator=(const SleepInhibitor&) = delete;

    // Asks logind for the lock (again after a wake-up); the reply arrives on `bus`.
    void take(sd_bus* bus);
    // Done locking: the machine may sleep now.
    void release() { fd_.reset(); }

  private:
    static int on_reply(sd_bus_message* m, void* userdata, sd_bus_error* error);

    const std::string who_, why_;
    sd_bus_slot* call_ = nullptr;
    UniqueFd fd_;  // the delay lock; closing it lets the machine sleep
};

}  // namespace attache::agent
