#pragma once

// Locks on screen lock and suspend: watches systemd-logind on the system bus (sd-bus) for
//  - PrepareForSleep(true) from /org/freedesktop/login1 (the machine is about to suspend or
//    hibernate), and
//  - Lock on the user's session object (the screen locker asked to lock; `loginctl
//    lock-session` sends it too).
// Only signals sent by the owner of org.freedesktop.login1 count. While watching, the agent
// holds a "delay" sleep inhibitor, so the tokens are logged out before the machine sleeps.
//
// sd_bus_open_system() honours $DBUS_SYSTEM_BUS_ADDRESS, so tests can use a private bus.

#include <functional>
#include <memory>
#include <string>

#include "agent/workstation/bus_loop.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/result.h"

namespace attache::agent {

struct LogindHandlers {
    std::function<void()> on_lock;   // the session's screen locks
    std::function<void()> on_sleep;  // the machine is about to sleep
};

class LogindWatcher {
  public:
    // `session_id`: the logind session whose Lock counts ($XDG_SESSION_ID); empty: the Lock
    // of any session that belongs to this user (checked with sd-login).
    LogindWatcher(LogindHandlers handlers, std::string session_id);
    ~LogindWatcher();
    LogindWatcher(const LogindWatcher&) = delete;
    LogindWatcher& operator=(const LogindWatcher&) = delete;

    // Connects and starts the watching thread. Fails (and watches nothing) when there is no
    // system bus.
    Status start();
    void stop();

    // Internal, for the sd-bus callbacks.
    struct State;

  private:
    std::unique_ptr<State> state_;
    BusLoopThread loop_;  // stopped before state_ goes
};

}  // namespace attache::agent
