#pragma once

// A dbus-daemon of the test's own, and a logind stand-in on it: the agent takes the bus for
// the system bus through $DBUS_SYSTEM_BUS_ADDRESS.

#include <sys/types.h>
#include <systemd/sd-bus.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {

// A dbus-daemon open to everyone on it.
class PrivateBus {
  public:
    PrivateBus();
    ~PrivateBus();
    PrivateBus(const PrivateBus&) = delete;
    PrivateBus& operator=(const PrivateBus&) = delete;

    const std::string& address() const { return address_; }
    bool running() const;

    // A connection that owns org.freedesktop.login1, as logind does (used from the test's
    // thread only).
    sd_bus* logind();
    // A connection that does not.
    sd_bus* impostor();
    // A new connection, or null.
    sd_bus* connect();

  private:
    TempDir dir_{"attache-dbus"};
    std::string address_;
    pid_t pid_ = -1;
    sd_bus* bus_ = nullptr;
    sd_bus* impostor_ = nullptr;
};

// What the stand-in says about one session.
struct StandInSession {
    std::string id;
    bool remote = false;
    std::string seat;  // "" : no seat
    std::string klass = "user";
    std::string type = "tty";
    bool active = true;  // the foreground session of its seat
};

// logind's session directory: GetSessionByPID for the pids it is told, and the Id, Remote,
// Seat, Class, Type and Active properties of their sessions; NoSessionForPID for any other pid.
// Owns org.freedesktop.login1 on its own connection (so not together with
// PrivateBus::logind()) and answers from a thread of its own.
class LogindSessionsStandIn {
  public:
    explicit LogindSessionsStandIn(PrivateBus& bus);
    ~LogindSessionsStandIn();
    LogindSessionsStandIn(const LogindSessionsStandIn&) = delete;
    LogindSessionsStandIn& operator=(const LogindSessionsStandIn&) = delete;

    bool ready() const { return bus_ != nullptr; }
    void add(pid_t pid, StandInSession session);
    // GetSessionByPID calls answered so far.
    int calls() const;

  private:
    static int on_message(sd_bus_message* m, void* userdata, sd_bus_error* error);
    int answer(sd_bus_message* m);

    mutable std::mutex mutex_;
    std::map<pid_t, StandInSession> sessions_;
    int calls_ = 0;
    sd_bus* bus_ = nullptr;
    sd_bus_slot* slot_ = nullptr;
    UniqueFd stop_;
    std::thread thread_;
};

}  // namespace attache::testing
