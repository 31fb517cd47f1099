#pragma once

// The tokens of the configured modules: found at start, then watched for insertion and
// removal by a monitor thread that also applies the idle and maximum-unlocked locks. A token
// is identified by its module, slot and serial: a card with another serial in the same slot
// is a new token, locked, whose keys never stand in for the old one's.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/config/config.h"
#include "agent/core/slot_events.h"
#include "agent/core/token.h"
#include "agent/core/user_prompt.h"
#include "pkcs11/module.h"
#include "pkcs11/uri.h"

namespace attache::agent {

struct KeyMatch {
    std::shared_ptr<Token> token;
    std::shared_ptr<const KeyRecord> key;
};

class TokenManager {
  public:
    using EventLog = std::function<void(const std::string&)>;

    explicit TokenManager(Config config, EventLog log);
    ~TokenManager();

    // Loads every configured module and finds the tokens present. Fails when a module cannot
    // be loaded.
    Status start();
    void start_monitor();
    void stop();

    // One discovery pass and the idle checks (the monitor's work; public for tests).
    void poll();

    std::vector<std::shared_ptr<Token>> tokens() const;
    // `ref`: a key id from `list keys`, or a PKCS#11 URI matching exactly one key.
    Result<KeyMatch> find_key(std::string_view ref) const;
    // `uri` empty: the only present token.
    Result<std::shared_ptr<Token>> find_token(std::string_view uri) const;
    // Canonical paths (realpath) of the modules the agent loaded at start.
    std::vector<std::string> module_paths() const;
    // Locks every unlocked token; returns how many.
    int lock_all(const std::string& reason);

    const Config& config() const { return config_; }

  private:
    void poll_module(const p11::Module& module);
    void apply_time_locks();
    // Modules whose C_WaitForSlotEvent answers only without blocking: checked between polls.
    void check_slot_events();
    bool polls_for_events() const;  // some module needs those checks
    std::chrono::milliseconds full_poll_interval() const;
    // When the next idle or maximum-unlocked lock may be due.
    std::chrono::steady_clock::time_point next_time_lock() const;

    Config config_;
    EventLog log_;
    p11::Uri filter_;
    TokenSettings settings_;
    std::vector<p11::Module> modules_;
    std::vector<bool> has_slot_events_;  // per module: C_WaitForSlotEvent(CKF_DONT_BLOCK) works
    std::vector<bool> blocking_events_;  // per module: a thread waits in the blocking call

    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<Token>> tokens_;

    SlotEvents slot_events_;  // also what the monitor sleeps on
    std::thread monitor_;
};

}  // namespace attache::agent
