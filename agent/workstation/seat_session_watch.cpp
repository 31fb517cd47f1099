#include "agent/workstation/seat_session_watch.h"

#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "agent/core/log.h"
#include "agent/workstation/bus_loop.h"
#include "agent/workstation/logind_names.h"
#include "agent/workstation/sleep_inhibitor.h"
#include "pkcs11/agent_protocol/unique_fd.h"

namespace attache::agent {
// Not in the anonymous namespace: State (declared in the header) holds a map of these.
namespace seat_watch_detail {

// What the watcher keeps of one session.
struct Session {
    uid_t uid = 0;
    bool remote = false;
    std::string seat;
    std::string klass;
    bool active = false;
    bool locked_hint = false;

    // The user at the machine (what managed mode serves).
    bool at_seat() const { return !remote && !seat.empty() && klass == "user"; }
};

}  // namespace seat_watch_detail

namespace {

using seat_watch_detail::Session;

constexpr const char* kPropertiesChangedMatch =
    "type='signal',sender='org.freedesktop.login1',interface='org.freedesktop.DBus.Properties',"
    "member='PropertiesChanged',path_namespace='/org/freedesktop/login1/session',"
    "arg0='org.freedesktop.login1.Session'";
constexpr uint64_t kCallTimeoutUs = 2'000'000;

// Reads one a{sv} of Session properties into `s`; the names it did not know are skipped.
int read_properties(sd_bus_message* m, Session& s) {
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0)
        return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char* name = nullptr;
        if ((r = sd_bus_message_read(m, "s", &name)) < 0)
            return r;
        const std::string_view n = name;
        int flag = 0;
        const char* text = nullptr;
        const char* path = nullptr;
        uint32_t uid = 0;
        if (n == "User") {
            r = sd_bus_message_read(m, "v", "(uo)", &uid, &path);
            s.uid = static_cast<uid_t>(uid);
        } else if (n == "Remote" || n == "Active" || n == "LockedHint") {
            r = sd_bus_message_read(m, "v", "b", &flag);
            (n == "Remote" ? s.remote : n == "Active" ? s.active : s.locked_hint) = flag != 0;
        } else if (n == "Class") {
            r = sd_bus_message_read(m, "v", "s", &text);
            s.klass = text ? text : "";
        } else if (n == "Seat") {
            r = sd_bus_message_read(m, "v", "(so)", &text, &path);
            s.seat = text ? text : "";
        } else {
            r = sd_bus_message_skip(m, "v");
        }
        if (r < 0)
            return r;
        if ((r = sd_bus_message_exit_container(m)) < 0)
            return r;
    }
    if (r < 0)
        return r;
    return sd_bus_message_exit_container(m);
}

std::optional<std::string> session_id_of(const char* path) {
    char* id = nullptr;
    if (path == nullptr || sd_bus_path_decode(path, logind::kSessionPrefix, &id) <= 0 ||
        id == nullptr)
        return std::nullopt;
    std::string out = id;
    std::free(id);
    return out;
}

}  // namespace

const char* lock_reason_of(SessionChange change) {
    switch (change) {
        case SessionChange::locked:
            return "session locked";
        case SessionChange::switched_away:
            return "user switched";
        case SessionChange::logged_out:
            return "logged out";
    }
    return "session ended";
}

using seat_watch_detail::Session;

struct SeatSessionWatcher::State {
    SeatSessionHandlers handlers;
    sd_bus* bus = nullptr;
    std::vector<sd_bus_slot*> slots;
    SleepInhibitor inhibitor{"attache-broker", "Lock the holders' smartcards before sleeping"};
    std::map<std::string, Session> sessions;  // by id; the watcher's thread only (after start)

    ~State() {
        for (sd_bus_slot* s : slots)
            sd_bus_slot_unref(s);
        sd_bus_flush_close_unref(bus);
    }

    // The session's properties, asked of logind; nullopt when it does not answer.
    std::optional<Session> read_session(const char* path) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message* reply = nullptr;
        std::optional<Session> out;
        Session s;
        if (sd_bus_call_method(bus, logind::kService, path, "org.freedesktop.DBus.Properties",
                               "GetAll", &error, &reply, "s", logind::kSession) >= 0 &&
            read_properties(reply, s) >= 0) {
            out = s;
        } else {
            log(LogLevel::debug, std::string("logind: cannot read session ") + path + ": " +
                                     (error.message ? error.message : "bad reply"));
        }
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        return out;
    }

    // The known session, or one read now (it may predate a SessionNew we missed).
    Session* find(const std::string& id, const char* path) {
        if (auto it = sessions.find(id); it != sessions.end())
            return &it->second;
        auto s = read_session(path);
        if (!s)
            return nullptr;
        return &sessions.emplace(id, *s).first->second;
    }

    void report(SessionChange change, const std::string& id, const Session& s) {
        log_info(std::string("logind: session ") + id + " of uid " + std::to_string(s.uid) + ": " +
                 lock_reason_of(change));
        if (handlers.on_session)
            handlers.on_session({change, id, s.uid});
    }

    void list_sessions() {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message* reply = nullptr;
        if (sd_bus_call_method(bus, logind::kService, logind::kManagerPath, logind::kManager,
                               "ListSessions", &error, &reply, "") < 0) {
            log(LogLevel::debug, std::string("logind: no session list: ") +
                                     (error.message ? error.message : "no reply"));
            sd_bus_error_free(&error);
            return;
        }
        std::vector<std::pair<std::string, std::string>> found;  // id, path
        if (sd_bus_message_enter_container(reply, 'a', "(susso)") >= 0) {
            const char *id = nullptr, *user = nullptr, *seat = nullptr, *path = nullptr;
            uint32_t uid = 0;
            while (sd_bus_message_read(reply, "(susso)", &id, &uid, &user, &seat, &path) > 0)
                found.emplace_back(id, path);
        }
        sd_bus_message_unref(reply);
        for (const auto& [id, path] : found) {
            if (auto s = read_session(path.c_str()))
                sessions[id] = *s;
        }
    }

    static int on_new(sd_bus_message* m, void* userdata, sd_bus_error*) {
        auto* self = static_cast<State*>(userdata);
        const char *id = nullptr, *path = nullptr;
        if (sd_bus_message_read(m, "so", &id, &path) < 0)
            return 0;
        if (auto s = self->read_session(path))
            self->sessions[id] = *s;
        return 0;
    }

    static int on_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
        auto* self = static_cast<State*>(userdata);
        const char *id = nullptr, *path = nullptr;
        if (sd_bus_message_read(m, "so", &id, &path) < 0)
            return 0;
        auto it = self->sessions.find(id);
        if (it == self->sessions.end())
            return 0;  // never known: it cannot be asked about any more
        const Session gone = it->second;
        self->sessions.erase(it);
        if (gone.at_seat())
            self->report(SessionChange::logged_out, id, gone);
        return 0;
    }

    static int on_lock(sd_bus_message* m, void* userdata, sd_bus_error*) {
        auto* self = static_cast<State*>(userdata);
        const char* path = sd_bus_message_get_path(m);
        const auto id = session_id_of(path);
        if (!id)
            return 0;
        if (Session* s = self->find(*id, path); s != nullptr && s->at_seat())
            self->report(SessionChange::locked, *id, *s);
        return 0;
    }

    static int on_properties(sd_bus_message* m, void* userdata, sd_bus_error*) {
        auto* self = static_cast<State*>(userdata);
        const char* path = sd_bus_message_get_path(m);
        const auto id = session_id_of(path);
        const char* interface = nullptr;
        if (!id || sd_bus_message_read(m, "s", &interface) < 0 ||
            std::strcmp(interface, logind::kSession) != 0)
            return 0;
        Session* s = self->find(*id, path);
        if (s == nullptr)
            return 0;
        const Session before = *s;
        Session after = before;
        if (read_properties(m, after) < 0)
            return 0;
        // Properties named as invalidated (changed, value not sent): asked again.
        bool reread = false;
        if (sd_bus_message_enter_container(m, 'a', "s") >= 0) {
            const char* name = nullptr;
            while (sd_bus_message_read(m, "s", &name) > 0)
                reread = reread || std::strcmp(name, "Active") == 0 ||
                         std::strcmp(name, "LockedHint") == 0;
        }
        if (reread) {
            if (auto fresh = self->read_session(path))
                after = *fresh;
        }
        *s = after;
        if (!after.at_seat())
            return 0;
        if (before.active && !after.active)
            self->report(SessionChange::switched_away, *id, after);
        if (!before.locked_hint && after.locked_hint)
            self->report(SessionChange::locked, *id, after);
        return 0;
    }

    static int on_sleep(sd_bus_message* m, void* userdata, sd_bus_error*) {
        auto* self = static_cast<State*>(userdata);
        int start = 0;
        if (sd_bus_message_read(m, "b", &start) < 0)
            return 0;
        if (!start) {
            self->inhibitor.take(self->bus);  // woke up: be ready for the next sleep
            return 0;
        }
        std::vector<uid_t> users;
        for (const auto& [id, s] : self->sessions) {
            if (std::find(users.begin(), users.end(), s.uid) == users.end())
                users.push_back(s.uid);
        }
        if (self->handlers.on_sleep)
            self->handlers.on_sleep(users);
        self->inhibitor.release();
        return 0;
    }

    Status match(const char* path, const char* interface, const char* member,
                 sd_bus_message_handler_t handler) {
        sd_bus_slot* slot = nullptr;
        const int r = sd_bus_match_signal(bus, &slot, logind::kService, path, interface, member,
                                          handler, this);
        if (r < 0)
            return Error(std::string("cannot watch logind's ") + member + ": " +
                         logind::bus_error(r));
        slots.push_back(slot);
        return ok();
    }
};

SeatSessionWatcher::SeatSessionWatcher(SeatSessionHandlers handlers)
    : state_(std::make_unique<State>()) {
    state_->handlers = std::move(handlers);
}

SeatSessionWatcher::~SeatSessionWatcher() {
    stop();
}

Status SeatSessionWatcher::start() {
    State& s = *state_;
    int r = sd_bus_open_system(&s.bus);
    if (r < 0) {
        s.bus = nullptr;
        return Error("cannot connect to the system bus: " + logind::bus_error(r));
    }
    sd_bus_set_method_call_timeout(s.bus, kCallTimeoutUs);
    if (s.handlers.on_session) {
        ATTACHE_CHECK(s.match(logind::kManagerPath, logind::kManager, "SessionNew", State::on_new));
        ATTACHE_CHECK(
            s.match(logind::kManagerPath, logind::kManager, "SessionRemoved", State::on_removed));
        ATTACHE_CHECK(s.match(nullptr, logind::kSession, "Lock", State::on_lock));
        sd_bus_slot* slot = nullptr;
        r = sd_bus_add_match(s.bus, &slot, kPropertiesChangedMatch, State::on_properties, &s);
        if (r < 0)
            return Error("cannot watch the sessions' properties: " + logind::bus_error(r));
        s.slots.push_back(slot);
        // Subscribed first, listed second: a session that comes meanwhile is not missed.
        s.list_sessions();
    }
    if (s.handlers.on_sleep) {
        ATTACHE_CHECK(
            s.match(logind::kManagerPath, logind::kManager, "PrepareForSleep", State::on_sleep));
        s.inhibitor.take(s.bus);
    }
    log_info("logind: watching " + std::to_string(s.sessions.size()) + " session(s)");
    return loop_.start(s.bus,
                       "lost the system bus: session locks, logouts and sleep no longer lock "
                       "the holders' cards");
}

void SeatSessionWatcher::stop() {
    loop_.stop();
}

}  // namespace attache::agent
