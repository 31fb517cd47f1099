#include "agent/workstation/login_sessions.h"

#include <cstring>
#include <optional>
#include <string>

#include "agent/core/log.h"
#include "agent/workstation/logind_names.h"

namespace attache::agent {
namespace {

// Frees what sd-bus handed out.
struct BusCall {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    ~BusCall() {
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
    }
    std::string why() const { return error.message ? error.message : "no reply"; }
};

std::string string_property(sd_bus* bus, const char* path, const char* name) {
    BusCall call;
    char* value = nullptr;
    if (sd_bus_get_property_string(bus, logind::kService, path, logind::kSession, name, &call.error,
                                   &value) < 0)
        return {};
    std::string out = value ? value : "";
    std::free(value);
    return out;
}

// The session's seat id ("seat0"); "" when it has none or cannot be read.
std::string seat_of(sd_bus* bus, const char* path) {
    BusCall call;
    if (sd_bus_get_property(bus, logind::kService, path, logind::kSession, "Seat", &call.error,
                            &call.reply, "(so)") < 0) {
        return {};
    }
    const char* id = nullptr;
    const char* seat_path = nullptr;
    if (sd_bus_message_read(call.reply, "(so)", &id, &seat_path) < 0 || id == nullptr)
        return {};
    return id;
}

// nullopt when it cannot be read.
std::optional<bool> bool_property(sd_bus* bus, const char* path, const char* name) {
    BusCall call;
    int value = 0;
    if (sd_bus_get_property_trivial(bus, logind::kService, path, logind::kSession, name,
                                    &call.error, 'b', &value) < 0) {
        return std::nullopt;
    }
    return value != 0;
}

}  // namespace

LogindSessions::~LogindSessions() {
    sd_bus_flush_close_unref(bus_);
}

sd_bus* LogindSessions::bus_locked() {
    if (bus_ != nullptr && sd_bus_is_open(bus_) <= 0) {
        sd_bus_flush_close_unref(bus_);
        bus_ = nullptr;
    }
    if (bus_ == nullptr) {
        if (int r = sd_bus_open_system(&bus_); r < 0) {
            bus_ = nullptr;
            log(LogLevel::debug,
                std::string("no system bus for login sessions: ") + std::strerror(-r));
            return nullptr;
        }
        sd_bus_set_method_call_timeout(bus_, static_cast<uint64_t>(call_timeout_.count()) * 1000);
    }
    return bus_;
}

LoginSession LogindSessions::session_of(pid_t pid) {
    std::lock_guard lock(mutex_);
    sd_bus* bus = bus_locked();
    if (bus == nullptr)
        return {};
    BusCall call;
    if (sd_bus_call_method(bus, logind::kService, logind::kManagerPath, logind::kManager,
                           "GetSessionByPID", &call.error, &call.reply, "u",
                           static_cast<uint32_t>(pid)) < 0) {
        // NoSessionForPID is the usual answer for services; anything else is worth a line.
        if (!sd_bus_error_has_name(&call.error, "org.freedesktop.login1.NoSessionForPID"))
            log(LogLevel::debug,
                "logind: no session for pid " + std::to_string(pid) + ": " + call.why());
        return {};
    }
    const char* path = nullptr;
    if (sd_bus_message_read(call.reply, "o", &path) < 0 || path == nullptr)
        return {};
    const std::string session_path = path;  // the reply owns `path`

    LoginSession session;
    session.id = string_property(bus, session_path.c_str(), "Id");
    const std::optional<bool> remote = bool_property(bus, session_path.c_str(), "Remote");
    if (!remote)
        return {};  // cannot tell: none (the fallback may still say remote)
    session.seat = seat_of(bus, session_path.c_str());
    session.klass = string_property(bus, session_path.c_str(), "Class");
    // Unreadable: not the foreground session.
    session.active = bool_property(bus, session_path.c_str(), "Active").value_or(false);
    if (*remote) {
        session.kind = SessionKind::remote;
    } else if (!session.seat.empty() || session.klass == "user") {
        session.kind = SessionKind::local;
    } else {
        session.kind = SessionKind::none;
    }
    return session;
}

}  // namespace attache::agent
