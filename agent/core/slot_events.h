#pragma once

// What one module's watcher sleeps on: card insertion and removal without polling, and a poke
// when the module stops. For a module known to report them (OpenSC waits on pcscd, which tells
// it of reader changes), a thread asleep in a blocking C_WaitForSlotEvent wakes the watcher,
// which then reads the module's slots. A module whose blocking call is not supported
// (SoftHSM2, p11-kit's proxy) is left to the watcher's polls.
//
// The thread is detached, never joined: a thread inside C_WaitForSlotEvent returns only on an
// event or C_Finalize, and the agent finalises no module under a running call. It keeps the
// state it needs (and its module) alive itself, so it may outlive the watcher. After stop()
// it ends at its next return from the module (at once for a helper that stopped).

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "pkcs11/module.h"

namespace attache::agent {

class SlotEvents {
  public:
    SlotEvents();
    ~SlotEvents();
    SlotEvents(const SlotEvents&) = delete;
    SlotEvents& operator=(const SlotEvents&) = delete;

    // Starts the waiter, asleep in the module's blocking C_WaitForSlotEvent.
    void watch(p11::Module module);
    // Whether a waiter is in (or about to enter) a blocking call.
    bool blocking() const;
    // Wakes wait_until as an event would (the module stopped: its watcher must look).
    void notify();

    enum class Wake { timeout, event, stopping };
    // Sleeps until `deadline`, an event (cleared) or stop().
    Wake wait_until(std::chrono::steady_clock::time_point deadline);
    // Wakes wait_until for good; the waiter ends at its next return from the module.
    void stop();

  private:
    struct State;
    static void run(std::shared_ptr<State> state, p11::Module module);
    std::shared_ptr<State> state_;
};

}  // namespace attache::agent
