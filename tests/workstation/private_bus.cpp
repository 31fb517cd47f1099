#include "tests/workstation/private_bus.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "tests/workstation/workstation_support.h"

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
    pid_ = fork();
    if (pid_ == 0) {
        execlp("dbus-daemon", "dbus-daemon", "--nofork", "--nopidfile",
               ("--config-file=" + (dir_ / "bus.conf").string()).c_str(),
               static_cast<char*>(nullptr));
        _exit(127);
    }
    eventually([&] { return std::filesystem::exists(socket); });
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
    return std::filesystem::exists(dir_ / "bus");
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

LogindSessionsStandIn::LogindSessionsStandIn(PrivateBus& bus) : bus_(bus.connect()) {
    if (bus_ == nullptr)
        return;
    EXPECT_GE(sd_bus_request_name(bus_, "org.freedesktop.login1", 0), 0);
    // Every call under /org/freedesktop/login1: the manager and the session objects.
    EXPECT_GE(sd_bus_add_fallback(bus_, &slot_, "/org/freedesktop/login1", on_message, this), 0);
    stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    thread_ = std::thread([this] {
        for (;;) {
            int r = sd_bus_process(bus_, nullptr);
            if (r < 0)
                return;
            if (r > 0)
                continue;
            pollfd fds[2] = {{sd_bus_get_fd(bus_), static_cast<short>(sd_bus_get_events(bus_)), 0},
                             {stop_.get(), POLLIN, 0}};
            if (poll(fds, 2, -1) < 0 && errno != EINTR)
                return;
            if (fds[1].revents & POLLIN)
                return;
        }
    });
}

LogindSessionsStandIn::~LogindSessionsStandIn() {
    if (thread_.joinable()) {
        uint64_t one = 1;
        (void)!write(stop_.get(), &one, sizeof one);
        thread_.join();
    }
    sd_bus_slot_unref(slot_);
    if (bus_ != nullptr)
        sd_bus_flush_close_unref(bus_);
}

void LogindSessionsStandIn::add(pid_t pid, StandInSession session) {
    std::lock_guard lock(mutex_);
    sessions_[pid] = std::move(session);
}

int LogindSessionsStandIn::calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
}

int LogindSessionsStandIn::on_message(sd_bus_message* m, void* userdata, sd_bus_error*) {
    return static_cast<LogindSessionsStandIn*>(userdata)->answer(m);
}

int LogindSessionsStandIn::answer(sd_bus_message* m) {
    std::lock_guard lock(mutex_);
    sd_bus_message* reply = nullptr;
    int r = 0;
    if (sd_bus_message_is_method_call(m, "org.freedesktop.login1.Manager", "GetSessionByPID")) {
        ++calls_;
        uint32_t pid = 0;
        if (sd_bus_message_read(m, "u", &pid) < 0)
            return -EINVAL;
        auto it = sessions_.find(static_cast<pid_t>(pid));
        if (it == sessions_.end()) {
            return sd_bus_reply_method_errorf(m, "org.freedesktop.login1.NoSessionForPID",
                                              "PID %u does not belong to any known session", pid);
        }
        char* path = nullptr;
        sd_bus_path_encode("/org/freedesktop/login1/session", it->second.id.c_str(), &path);
        r = sd_bus_reply_method_return(m, "o", path);
        std::free(path);
        return r < 0 ? r : 1;
    }
    if (!sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "Get"))
        return 0;
    char* id = nullptr;
    if (sd_bus_path_decode(sd_bus_message_get_path(m), "/org/freedesktop/login1/session", &id) <=
        0) {
        return 0;
    }
    const std::string session_id = id;
    std::free(id);
    const StandInSession* s = nullptr;
    for (const auto& [pid, session] : sessions_) {
        if (session.id == session_id)
            s = &session;
    }
    const char* interface = nullptr;
    const char* name = nullptr;
    if (s == nullptr || sd_bus_message_read(m, "ss", &interface, &name) < 0)
        return 0;
    if (std::strcmp(interface, "org.freedesktop.login1.Session") != 0)
        return 0;
    r = sd_bus_message_new_method_return(m, &reply);
    if (r < 0)
        return r;
    const std::string property = name;
    if (property == "Id") {
        r = sd_bus_message_append(reply, "v", "s", s->id.c_str());
    } else if (property == "Remote") {
        r = sd_bus_message_append(reply, "v", "b", static_cast<int>(s->remote));
    } else if (property == "Active") {
        r = sd_bus_message_append(reply, "v", "b", static_cast<int>(s->active));
    } else if (property == "Class") {
        r = sd_bus_message_append(reply, "v", "s", s->klass.c_str());
    } else if (property == "Type") {
        r = sd_bus_message_append(reply, "v", "s", s->type.c_str());
    } else if (property == "Seat") {
        const std::string seat_path =
            s->seat.empty() ? "/" : "/org/freedesktop/login1/seat/" + s->seat;
        r = sd_bus_message_append(reply, "v", "(so)", s->seat.c_str(), seat_path.c_str());
    } else {
        sd_bus_message_unref(reply);
        return sd_bus_reply_method_errorf(m, "org.freedesktop.DBus.Error.UnknownProperty",
                                          "no property %s", name);
    }
    if (r >= 0)
        r = sd_bus_send(nullptr, reply, nullptr);
    sd_bus_message_unref(reply);
    return r < 0 ? r : 1;
}

}  // namespace attache::testing
