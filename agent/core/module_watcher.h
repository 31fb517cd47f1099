#pragma once

// One configured module, watched on a thread of its own: its slots read every poll interval
// (and on its slot events), tokens found and removed, and — for a module in a helper process —
// its helper watched: when it stops (crashed, killed, or killed for a hung call) the module's
// tokens go absent at once, saying why, and the helper is started again after a back-off
// (restart_backoff.h); the cards are then found again, locked. A module hung in a call
// delays its own tokens only: every other module has its own watcher, and the time locks
// their own thread (time_locks.h).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/core/module_launch.h"
#include "agent/core/restart_backoff.h"
#include "agent/core/slot_events.h"
#include "agent/core/token.h"
#include "agent/core/token_list.h"
#include "pkcs11/module.h"
#include "pkcs11/uri.h"

namespace attache::agent {

struct WatchSettings {
    std::chrono::milliseconds poll_interval{500};
    p11::Uri filter;  // the tokens served
    TokenSettings token;
    unsigned helpers_per_token = 0;  // config's helpers_per_token (helper_pool.h)
};

class ModuleWatcher {
  public:
    using EventLog = std::function<void(const std::string&)>;

    // `index`: the module's place in the configuration, which tags its tokens in `tokens`.
    ModuleWatcher(size_t index, std::string spec, const ModuleLaunch& launch, TokenList& tokens,
                  const WatchSettings& settings, EventLog log);
    ~ModuleWatcher();
    ModuleWatcher(const ModuleWatcher&) = delete;
    ModuleWatcher& operator=(const ModuleWatcher&) = delete;

    // Starts the module for the first time. Fails when it cannot be loaded, or is
    // attache-pkcs11.so (the agent would be its own client).
    Status load();
    // One discovery pass (load() is followed by one; public for tests).
    void poll();
    // The watcher's thread.
    void start();
    // Ends the thread: waits for a module call in progress to return.
    void stop();

    // The module's library, canonical (realpath).
    const std::string& path() const { return path_; }

  private:
    void run();
    // Puts a freshly started module in place: its slot events, its on_stop notice.
    void install(p11::Module module);
    // The thread's waiter in a blocking C_WaitForSlotEvent, for a module that has them.
    void start_waiter();
    void poll_module();
    // Modules whose C_WaitForSlotEvent answers only without blocking: asked between polls.
    void check_slot_events();
    // The module stopped: its tokens go absent; it is started again after the back-off.
    // Returns false when stop() came first.
    bool handle_stop();
    // The settings of a token found in `slot`: with further helpers when it may have them.
    TokenSettings token_settings(const Result<p11::SlotInfo>& slot,
                                 const p11::TokenInfo& token) const;
    // Sleeps `delay` unless stop() comes first; false: stopping.
    bool sleep_for(std::chrono::seconds delay);
    std::chrono::milliseconds full_poll_interval() const;

    const size_t index_;
    const std::string spec_;
    const ModuleLaunch& launch_;
    TokenList& tokens_;
    const WatchSettings settings_;
    EventLog log_;
    std::string path_;

    std::optional<p11::Module> module_;  // the running one; replaced (by the thread) on a restart
    bool has_slot_events_ = false;       // C_WaitForSlotEvent(CKF_DONT_BLOCK) works
    bool blocking_events_ = false;       // and a waiter in the blocking call reports them
    RestartBackoff backoff_;

    std::mutex mutex_;  // guards events_ against stop() and stopping_
    std::condition_variable stop_wake_;
    bool stopping_ = false;
    std::shared_ptr<SlotEvents> events_;  // what the thread sleeps on; one per started module
    std::thread thread_;
};

}  // namespace attache::agent
