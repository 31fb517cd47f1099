#pragma once

// Card insertion and removal without polling: for each module, a thread asleep in a blocking
// C_WaitForSlotEvent (OpenSC's waits on pcscd, which tells it of reader changes). An event
// wakes the monitor, which then reads that module's slots. A module whose blocking call is not
// supported (SoftHSM2, p11-kit's proxy) is left to the monitor's polls.
//
// The threads are detached, never joined: a thread inside C_WaitForSlotEvent returns only on
// an event or C_Finalize, and the agent finalises no module under a running call. Each thread
// keeps the state it needs (and its module) alive itself, so it may outlive the monitor.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "pkcs11/module.h"

namespace attache::agent {

class SlotEvents {
  public:
    SlotEvents();
    ~SlotEvents();

    // Starts the waiter of module `index` (indices are the manager's module order).
    void watch(size_t index, p11::Module module);
    // Whether module `index` has a waiter in (or about to enter) a blocking call.
    bool blocking(size_t index) const;
    // Sleeps until `deadline`, an event, or stop(). Returns the modules with events (cleared),
    // empty on timeout; sets `stopping` when stop() was called.
    std::vector<size_t> wait_until(std::chrono::steady_clock::time_point deadline, bool& stopping);
    // Wakes wait_until for good; waiters end at their next return from the module.
    void stop();

  private:
    struct State;
    static void run(std::shared_ptr<State> state, size_t index, p11::Module module);
    std::shared_ptr<State> state_;
};

}  // namespace attache::agent
