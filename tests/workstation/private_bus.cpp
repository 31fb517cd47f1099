#include "tests/workstation/private_bus.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "tests/support/temp_dir.h"

namespace attache::testing {

PrivateBus::PrivateBus() {
    const auto socket = dir_ / "bus";
    write_file(dir_ / "bus.conf",
               "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
               "1.0//EN\" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
               "<busconfig><type>attache-test</type><listen>unix:path=" +
                   socket.string() +
                   "</listen><auth>EXTERNAL</auth><policy context=\"default\">"
                   "<allow user=\"*\"/><allow own=\"*\"/><allow send_destination=\"*\"/>"
                   "<allow receive_sender=\"*\"/></policy></busconfig>\n");
    address_ = "unix:path=" + socket.string();
    // dbus-daemon prints its address on `ready` once it accepts connections; the socket file
    // appears earlier (between bind and listen a connection is refused).
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0)
        return;
    // Built before the fork: the child only clears close-on-exec and executes.
    const std::string config = "--config-file=" + (dir_ / "bus.conf").string();
    const std::string print = "--print-address=" + std::to_string(ready[1]);
    pid_ = fork();
    if (pid_ == 0) {
        fcntl(ready[1], F_SETFD, 0);  // the daemon keeps it
        execlp("dbus-daemon", "dbus-daemon", "--nofork", "--nopidfile", config.c_str(),
               print.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(ready[1]);
    // A line, or end of file when dbus-daemon failed; bounded by a poll of 10 s.
    char c = 0;
    pollfd p{ready[0], POLLIN, 0};
    while (poll(&p, 1, 10000) == 1 && read(ready[0], &c, 1) == 1 && c != '\n') {
    }
    close(ready[0]);
    ready_ = c == '\n';
}

PrivateBus::~PrivateBus() {
    if (bus_ != nullptr)
        sd_bus_flush_close_unref(bus_);
    if (impostor_ != nullptr)
        sd_bus_flush_close_unref(impostor_);
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
    }
}

bool PrivateBus::running() const {
    return ready_;
}

sd_bus* PrivateBus::logind() {
    if (bus_ == nullptr) {
        bus_ = connect();
        if (bus_ != nullptr) {
            EXPECT_GE(sd_bus_request_name(bus_, "org.freedesktop.login1", 0), 0);
        }
    }
    return bus_;
}

sd_bus* PrivateBus::impostor() {
    if (impostor_ == nullptr)
        impostor_ = connect();
    return impostor_;
}

sd_bus* PrivateBus::connect() {
    sd_bus* bus = nullptr;
    if (sd_bus_new(&bus) < 0)
        return nullptr;
    sd_bus_set_address(bus, address_.c_str());
    sd_bus_set_bus_client(bus, 1);
    if (sd_bus_start(bus) < 0) {
        sd_bus_unref(bus);
        return nullptr;
    }
    return bus;
}

namespace {

constexpr const char* kSessionPrefix = "/org/freedesktop/login1/session";

std::string session_path(const std::string& id) {
    char* path = nullptr;
    if (sd_bus_path_encode(kSessionPrefix, id.c_str(), &path) < 0)
        return {};
    std::string out = path;
    std::free(path);
    return out;
}

std::string seat_path(const StandInSession& s) {
    return s.seat.empty() ? "/" : "/org/freedesktop/login1/seat/" + s.seat;
}

// One property of a session into `reply` as a variant; false for a name it does not have.
bool append_property(sd_bus_message* reply, const StandInSession& s, const std::string& name,
                     int& r) {
    const std::string user_path = "/org/freedesktop/login1/user/_" + std::to_string(s.uid);
    if (name == "Id")
        r = sd_bus_message_append(reply, "v", "s", s.id.c_str());
    else if (name == "User")
        r = sd_bus_message_append(reply, "v", "(uo)", static_cast<uint32_t>(s.uid),
                                  user_path.c_str());
    else if (name == "Name")
        r = sd_bus_message_append(reply, "v", "s", s.name.c_str());
    else if (name == "Remote")
        r = sd_bus_message_append(reply, "v", "b", static_cast<int>(s.remote));
    else if (name == "Active")
        r = sd_bus_message_append(reply, "v", "b", static_cast<int>(s.active));
    else if (name == "LockedHint")
        r = sd_bus_message_append(reply, "v", "b", static_cast<int>(s.locked_hint));
    else if (name == "Class")
        r = sd_bus_message_append(reply, "v", "s", s.klass.c_str());
    else if (name == "Type")
        r = sd_bus_message_append(reply, "v", "s", s.type.c_str());
    else if (name == "Seat")
        r = sd_bus_message_append(reply, "v", "(so)", s.seat.c_str(), seat_path(s).c_str());
    else
        return false;
    return true;
}

// Sends `reply` (when every step so far, `r`, succeeded) and frees it: the method's return.
int send_reply(sd_bus_message* reply, int r) {
    if (r >= 0)
        r = sd_bus_send(nullptr, reply, nullptr);
    sd_bus_message_unref(reply);
    return r < 0 ? r : 1;
}

constexpr const char* kProperties[] = {"Id",         "User",  "Name", "Remote", "Active",
                                       "LockedHint", "Class", "Type", "Seat"};

}  // namespace

LogindSessionsStandIn::LogindSessionsStandIn(PrivateBus& bus) : bus_(bus.connect()) {
    if (bus_ == nullptr)
        return;
    EXPECT_GE(sd_bus_request_name(bus_, "org.freedesktop.login1", 0), 0);
    // Every call under /org/freedesktop/login1: the manager and the session objects.
    EXPECT_GE(sd_bus_add_fallback(bus_, &slot_, "/org/freedesktop/login1", on_message, this), 0);
    stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    thread_ = std::thread([this] {
        for (;;) {
            int r = sd_bus_process(bus_, nullptr);
            if (r < 0)
                return;
            if (r > 0)
                continue;
            pollfd fds[3] = {{sd_bus_get_fd(bus_), static_cast<short>(sd_bus_get_events(bus_)), 0},
                             {stop_.get(), POLLIN, 0},
                             {wake_.get(), POLLIN, 0}};
            if (poll(fds, 3, -1) < 0 && errno != EINTR)
                return;
            if (fds[1].revents & POLLIN)
                return;
            if (fds[2].revents & POLLIN) {
                uint64_t n = 0;
                (void)!read(wake_.get(), &n, sizeof n);
                std::vector<std::pair<std::function<int()>, std::promise<int>>> work;
                {
                    std::lock_guard lock(queue_mutex_);
                    work.swap(queue_);
                }
                for (auto& [action, done] : work) {
                    int result = action();
                    if (result >= 0)
                        result = sd_bus_flush(bus_);
                    done.set_value(result);
                }
            }
        }
    });
}

LogindSessionsStandIn::~LogindSessionsStandIn() {
    if (thread_.joinable()) {
        uint64_t one = 1;
        (void)!write(stop_.get(), &one, sizeof one);
        thread_.join();
    }
    for (auto& [action, done] : queue_)
        done.set_value(-ECANCELED);
    sd_bus_slot_unref(slot_);
    if (bus_ != nullptr)
        sd_bus_flush_close_unref(bus_);
}

void LogindSessionsStandIn::add(pid_t pid, StandInSession session) {
    std::lock_guard lock(mutex_);
    pids_[pid] = session.id;
    sessions_[session.id] = std::move(session);
}

void LogindSessionsStandIn::add_session(StandInSession session) {
    std::lock_guard lock(mutex_);
    sessions_[session.id] = std::move(session);
}

int LogindSessionsStandIn::calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
}

const StandInSession* LogindSessionsStandIn::session_locked(const std::string& id) const {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : &it->second;
}

int LogindSessionsStandIn::on_bus_thread(const std::function<int()>& action) {
    if (bus_ == nullptr)
        return -ENOTCONN;
    std::future<int> result;
    {
        std::lock_guard lock(queue_mutex_);
        std::promise<int> done;
        result = done.get_future();
        queue_.emplace_back(action, std::move(done));
    }
    uint64_t one = 1;
    (void)!write(wake_.get(), &one, sizeof one);
    return result.get();
}

int LogindSessionsStandIn::new_session(StandInSession session) {
    const std::string id = session.id;
    add_session(std::move(session));
    return on_bus_thread([this, id] {
        return sd_bus_emit_signal(bus_, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                  "SessionNew", "so", id.c_str(), session_path(id).c_str());
    });
}

int LogindSessionsStandIn::remove_session(const std::string& id) {
    {
        std::lock_guard lock(mutex_);
        sessions_.erase(id);
    }
    return on_bus_thread([this, id] {
        return sd_bus_emit_signal(bus_, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                  "SessionRemoved", "so", id.c_str(), session_path(id).c_str());
    });
}

int LogindSessionsStandIn::lock(const std::string& id) {
    return on_bus_thread([this, id] {
        return sd_bus_emit_signal(bus_, session_path(id).c_str(), "org.freedesktop.login1.Session",
                                  "Lock", "");
    });
}

int LogindSessionsStandIn::properties_changed(const std::string& id, const char* name, bool value) {
    return on_bus_thread([this, id, name, value] {
        sd_bus_message* m = nullptr;
        int r = sd_bus_message_new_signal(bus_, &m, session_path(id).c_str(),
                                          "org.freedesktop.DBus.Properties", "PropertiesChanged");
        if (r >= 0)
            r = sd_bus_message_append(m, "sa{sv}as", "org.freedesktop.login1.Session", 1, name, "b",
                                      static_cast<int>(value), 0);
        if (r >= 0)
            r = sd_bus_send(bus_, m, nullptr);
        sd_bus_message_unref(m);
        return r;
    });
}

int LogindSessionsStandIn::set_active(const std::string& id, bool active) {
    {
        std::lock_guard lock(mutex_);
        sessions_[id].active = active;
    }
    return properties_changed(id, "Active", active);
}

int LogindSessionsStandIn::set_locked_hint(const std::string& id, bool locked) {
    {
        std::lock_guard lock(mutex_);
        sessions_[id].locked_hint = locked;
    }
    return properties_changed(id, "LockedHint", locked);
}

int LogindSessionsStandIn::prepare_for_sleep(bool start) {
    return on_bus_thread([this, start] {
        return sd_bus_emit_signal(bus_, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                  "PrepareForSleep", "b", static_cast<int>(start));
    });
}

int LogindSessionsStandIn::on_message(sd_bus_message* m, void* userdata, sd_bus_error*) {
    return static_cast<LogindSessionsStandIn*>(userdata)->answer(m);
}

int LogindSessionsStandIn::list_sessions(sd_bus_message* m) {
    sd_bus_message* reply = nullptr;
    int r = sd_bus_message_new_method_return(m, &reply);
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', "(susso)");
    for (const auto& [id, s] : sessions_) {
        if (r >= 0)
            r = sd_bus_message_append(reply, "(susso)", id.c_str(), static_cast<uint32_t>(s.uid),
                                      s.name.c_str(), s.seat.c_str(), session_path(id).c_str());
    }
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    return send_reply(reply, r);
}

int LogindSessionsStandIn::get_all(sd_bus_message* m, const StandInSession& s) {
    sd_bus_message* reply = nullptr;
    int r = sd_bus_message_new_method_return(m, &reply);
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
    for (const char* name : kProperties) {
        if (r >= 0)
            r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
            r = sd_bus_message_append(reply, "s", name);
        if (r >= 0)
            append_property(reply, s, name, r);
        if (r >= 0)
            r = sd_bus_message_close_container(reply);
    }
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    return send_reply(reply, r);
}

int LogindSessionsStandIn::answer(sd_bus_message* m) {
    std::lock_guard lock(mutex_);
    sd_bus_message* reply = nullptr;
    int r = 0;
    if (sd_bus_message_is_method_call(m, "org.freedesktop.login1.Manager", "ListSessions"))
        return list_sessions(m);
    if (sd_bus_message_is_method_call(m, "org.freedesktop.login1.Manager", "GetSessionByPID")) {
        ++calls_;
        uint32_t pid = 0;
        if (sd_bus_message_read(m, "u", &pid) < 0)
            return -EINVAL;
        auto it = pids_.find(static_cast<pid_t>(pid));
        if (it == pids_.end() || session_locked(it->second) == nullptr) {
            return sd_bus_reply_method_errorf(m, "org.freedesktop.login1.NoSessionForPID",
                                              "PID %u does not belong to any known session", pid);
        }
        r = sd_bus_reply_method_return(m, "o", session_path(it->second).c_str());
        return r < 0 ? r : 1;
    }
    const bool get = sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "Get");
    const bool all = sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "GetAll");
    if (!get && !all)
        return 0;
    char* id = nullptr;
    if (sd_bus_path_decode(sd_bus_message_get_path(m), kSessionPrefix, &id) <= 0)
        return 0;
    const std::string session_id = id;
    std::free(id);
    const StandInSession* s = session_locked(session_id);
    const char* interface = nullptr;
    if (s == nullptr || sd_bus_message_read(m, "s", &interface) < 0)
        return 0;
    if (std::strcmp(interface, "org.freedesktop.login1.Session") != 0)
        return 0;
    if (all)
        return get_all(m, *s);
    const char* name = nullptr;
    if (sd_bus_message_read(m, "s", &name) < 0)
        return 0;
    r = sd_bus_message_new_method_return(m, &reply);
    if (r < 0)
        return r;
    if (!append_property(reply, *s, name, r)) {
        sd_bus_message_unref(reply);
        return sd_bus_reply_method_errorf(m, "org.freedesktop.DBus.Error.UnknownProperty",
                                          "no property %s", name);
    }
    return send_reply(reply, r);
}

}  // namespace attache::testing
