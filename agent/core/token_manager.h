#pragma once

// The tokens of the configured modules. Each module has a watcher of its own (thread,
// discovery, slot events, and for a module in a helper process its restarts:
// module_watcher.h); the idle and maximum-unlocked locks run on their own thread
// (time_locks.h). A token is identified by its module, slot and serial: a card with another
// serial in the same slot is a new token, locked, whose keys never stand in for the old one's.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"
#include "agent/core/module_launch.h"
#include "agent/core/module_watcher.h"
#include "agent/core/time_locks.h"
#include "agent/core/token.h"
#include "agent/core/token_list.h"
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

    // Starts every configured module (in the agent or in a helper process, per
    // module_process) and finds the tokens present. Fails when a module cannot be started.
    Status start();
    // The watchers' threads and the time locks' thread.
    void start_monitor();
    void stop();

    // One discovery pass of every module and the time locks (the threads' work; for tests).
    void poll();

    std::vector<std::shared_ptr<Token>> tokens() const;
    // `ref`: a key id from `list keys`, or a PKCS#11 URI matching exactly one key.
    Result<KeyMatch> find_key(std::string_view ref) const;
    // `uri` empty: the only present token.
    Result<std::shared_ptr<Token>> find_token(std::string_view uri) const;
    // Canonical paths (realpath) of the modules the agent loaded at start.
    std::vector<std::string> module_paths() const;
    // Locks every unlocked token; returns how many. Every token refuses operations before
    // the first logout is asked of a module.
    int lock_all(const std::string& reason);

    const Config& config() const { return config_; }

  private:
    Config config_;
    EventLog log_;
    p11::Uri filter_;
    WatchSettings settings_;
    ModuleLaunch launch_;
    TokenList tokens_;
    std::vector<std::unique_ptr<ModuleWatcher>> watchers_;
    TimeLocks time_locks_;
};

}  // namespace attache::agent
