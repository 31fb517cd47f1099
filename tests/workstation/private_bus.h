#pragma once

// A dbus-daemon of the test's own, and a logind stand-in on it: the agent takes the bus for
// the system bus through $DBUS_SYSTEM_BUS_ADDRESS.

#include <sys/types.h>
#include <systemd/sd-bus.h>

#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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
    // dbus-daemon started and accepts connections.
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
    bool ready_ = false;  // dbus-daemon said it accepts connections
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
    uid_t uid = 0;       // its user (User, and ListSessions)
    std::string name;    // the user's login name (Name)
    bool locked_hint = false;
};

// logind's session directory: GetSessionByPID for the pids it is told, ListSessions, and the
// Id, User, Name, Remote, Seat, Class, Type, Active and LockedHint properties of its sessions
// (Get and GetAll); NoSessionForPID for any other pid. It also plays logind's signals for
// managed mode's broker, which follows every session: SessionNew, SessionRemoved, a session's
// Lock and PropertiesChanged, PrepareForSleep. Owns org.freedesktop.login1 on its own
// connection (so not together with PrivateBus::logind()) and answers from a thread of its own;
// the signal methods run on that thread and return once the signal has left.
class LogindSessionsStandIn {
  public:
    explicit LogindSessionsStandIn(PrivateBus& bus);
    ~LogindSessionsStandIn();
    LogindSessionsStandIn(const LogindSessionsStandIn&) = delete;
    LogindSessionsStandIn& operator=(const LogindSessionsStandIn&) = delete;

    bool ready() const { return bus_ != nullptr; }
    void add(pid_t pid, StandInSession session);
    // A session without a known pid (listed by ListSessions from now on).
    void add_session(StandInSession session);
    // GetSessionByPID calls answered so far.
    int calls() const;

    // Signals, as logind sends them. Each returns the sd-bus result (>= 0: sent).
    int new_session(StandInSession session);  // add_session, then SessionNew
    int remove_session(const std::string& id);
    int lock(const std::string& id);
    int set_active(const std::string& id, bool active);  // PropertiesChanged
    int set_locked_hint(const std::string& id, bool locked);
    int prepare_for_sleep(bool start);

  private:
    static int on_message(sd_bus_message* m, void* userdata, sd_bus_error* error);
    int answer(sd_bus_message* m);
    int list_sessions(sd_bus_message* m);
    int get_all(sd_bus_message* m, const StandInSession& s);
    const StandInSession* session_locked(const std::string& id) const;  // requires mutex_
    // Runs `action` on the stand-in's thread (sd-bus connections are not thread-safe), then
    // flushes the bus; returns its result.
    int on_bus_thread(const std::function<int()>& action);
    int properties_changed(const std::string& id, const char* name, bool value);

    mutable std::mutex mutex_;
    std::map<pid_t, std::string> pids_;               // pid -> session id
    std::map<std::string, StandInSession> sessions_;  // by id
    int calls_ = 0;
    std::mutex queue_mutex_;
    std::vector<std::pair<std::function<int()>, std::promise<int>>> queue_;
    UniqueFd wake_;
    sd_bus* bus_ = nullptr;
    sd_bus_slot* slot_ = nullptr;
    UniqueFd stop_;
    std::thread thread_;
};

}  // namespace attache::testing
