#include "agent/workstation/logind.h"

#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "agent/core/log.h"
#include "agent/workstation/bus_loop.h"
#include "agent/workstation/logind_names.h"
#include "agent/workstation/sleep_inhibitor.h"

namespace attache::agent {
namespace {}  // namespace

struct LogindWatcher::State {
    LogindHandlers handlers;
    std::string session_id;
    sd_bus* bus = nullptr;
    sd_bus_slot* sleep_slot = nullptr;
    sd_bus_slot* lock_slot = nullptr;
    SleepInhibitor inhibitor{"attache-agent", "Log the smartcards out before sleeping"};

    ~State() {
        sd_bus_slot_unref(lock_slot);
        sd_bus_slot_unref(sleep_slot);
        sd_bus_flush_close_unref(bus);
    }

    static int on_sleep(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
        auto* self = static_cast<State*>(userdata);
        int start = 0;
        if (sd_bus_message_read(m, "b", &start) < 0)
            return 0;
        if (start) {
            if (self->handlers.on_sleep)
                self->handlers.on_sleep();
            self->inhibitor.release();  // done: the machine may sleep now
        } else {
            self->inhibitor.take(self->bus);  // woke up: be ready for the next sleep
        }
        return 0;
    }

    static int on_lock(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
        auto* self = static_cast<State*>(userdata);
        if (self->session_id.empty()) {
            // Any session's Lock: only ours count.
            char* id = nullptr;
            if (sd_bus_path_decode(sd_bus_message_get_path(m), logind::kSessionPrefix, &id) <= 0)
                return 0;
            uid_t uid = 0;
            const int r = sd_session_get_uid(id, &uid);
            std::free(id);
            if (r < 0 || uid != getuid())
                return 0;
        }
        if (self->handlers.on_lock)
            self->handlers.on_lock();
        return 0;
    }
};

LogindWatcher::LogindWatcher(LogindHandlers handlers, std::string session_id)
    : state_(std::make_unique<State>()) {
    state_->handlers = std::move(handlers);
    state_->session_id = std::move(session_id);
}

LogindWatcher::~LogindWatcher() {
    stop();
}

Status LogindWatcher::start() {
    State& s = *state_;
    int r = sd_bus_open_system(&s.bus);
    if (r < 0)
        return Error("cannot connect to the system bus: " + logind::bus_error(r));
    if (s.handlers.on_sleep) {
        r = sd_bus_match_signal(s.bus, &s.sleep_slot, logind::kService, logind::kManagerPath,
                                logind::kManager, "PrepareForSleep", State::on_sleep, &s);
        if (r < 0)
            return Error("cannot watch logind's PrepareForSleep: " + logind::bus_error(r));
        s.inhibitor.take(s.bus);
    }
    if (s.handlers.on_lock) {
        std::string path;
        if (!s.session_id.empty()) {
            char* p = nullptr;
            r = sd_bus_path_encode(logind::kSessionPrefix, s.session_id.c_str(), &p);
            if (r < 0)
                return Error("bad session id '" + s.session_id + "'");
            path = p;
            std::free(p);
        }
        r = sd_bus_match_signal(s.bus, &s.lock_slot, logind::kService,
                                path.empty() ? nullptr : path.c_str(), logind::kSession, "Lock",
                                State::on_lock, &s);
        if (r < 0)
            return Error("cannot watch logind's Lock: " + logind::bus_error(r));
    }
    return loop_.start(s.bus,
                       "lost the system bus: screen lock and suspend no longer lock the tokens");
}

void LogindWatcher::stop() {
    loop_.stop();
}

}  // namespace attache::agent
