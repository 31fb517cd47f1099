#pragma once

// Managed mode's view of every login session on the machine: the broker serves many users, so
// it follows all of logind's sessions (org.freedesktop.login1 on the system bus) and reports
// when a user's seat session stops being that user at the machine:
//  - locked: the session's Lock signal (the screen locker, `loginctl lock-session`), or its
//    LockedHint becoming true;
//  - switched away: its Active property becoming false (another session took the seat);
//  - logged out: SessionRemoved;
// and PrepareForSleep(true) for the whole machine (holding a "delay" sleep inhibitor, so the
// handler runs before the machine sleeps). Seat sessions are those logind shows on a seat, not
// remote, of class "user" (the sessions managed mode serves). Only signals from the owner of
// org.freedesktop.login1 count. The sessions present at start are read with ListSessions; new
// ones from SessionNew, their properties with Properties.GetAll.
//
// The handlers run on the watcher's thread. sd_bus_open_system() honours
// $DBUS_SYSTEM_BUS_ADDRESS, so tests use a stand-in on a private bus.

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/workstation/bus_loop.h"
#include "pkcs11/result.h"

namespace attache::agent {

enum class SessionChange { locked, switched_away, logged_out };
// What `attache status` shows as the lock reason: "session locked", "user switched",
// "logged out".
const char* lock_reason_of(SessionChange change);

struct SessionEvent {
    SessionChange change = SessionChange::locked;
    std::string session_id;
    uid_t uid = 0;  // the session's user
};

struct SeatSessionHandlers {
    std::function<void(const SessionEvent&)> on_session;
    // The machine is about to sleep; `users`: the uids of every session logind has.
    std::function<void(const std::vector<uid_t>& users)> on_sleep;
};

class SeatSessionWatcher {
  public:
    explicit SeatSessionWatcher(SeatSessionHandlers handlers);
    ~SeatSessionWatcher();
    SeatSessionWatcher(const SeatSessionWatcher&) = delete;
    SeatSessionWatcher& operator=(const SeatSessionWatcher&) = delete;

    // Connects, subscribes, reads the present sessions and starts the thread. Fails (and
    // watches nothing) when there is no system bus.
    Status start();
    void stop();

    struct State;  // internal, for the sd-bus callbacks

  private:
    std::unique_ptr<State> state_;
    BusLoopThread loop_;  // stopped before state_ goes
};

}  // namespace attache::agent
