#pragma once

// The login session of a client, from systemd-logind over the system bus (sd-bus):
// org.freedesktop.login1.Manager.GetSessionByPID, then the session's properties. Remote=true
// is remote; a session on a seat, or of class "user", is local; anything else (no session, a
// greeter or background session, no logind, an error) is none, and add_session_facts() falls
// back to the parent chain. The session's Seat, Class and Active are kept as well
// (LoginSession::at_seat()).
//
// sd_bus_open_system() honours $DBUS_SYSTEM_BUS_ADDRESS, so tests use a private bus.

#include <systemd/sd-bus.h>

#include <chrono>
#include <mutex>

#include "agent/request/session_directory.h"

namespace attache::agent {

class LogindSessions : public SessionDirectory {
  public:
    // Connects on first use, and again after the bus was lost.
    explicit LogindSessions(std::chrono::milliseconds call_timeout = std::chrono::seconds(2))
        : call_timeout_(call_timeout) {}
    ~LogindSessions() override;
    LogindSessions(const LogindSessions&) = delete;
    LogindSessions& operator=(const LogindSessions&) = delete;

    LoginSession session_of(pid_t pid) override;

  private:
    sd_bus* bus_locked();  // requires mutex_; null when there is no system bus

    std::chrono::milliseconds call_timeout_;
    std::mutex mutex_;  // sd-bus connections are not thread-safe; clients connect at once
    sd_bus* bus_ = nullptr;
};

}  // namespace attache::agent
