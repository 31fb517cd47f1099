#include "agent/workstation/sleep_inhibitor.h"

#include <fcntl.h>

#include <cstring>

#include "agent/core/log.h"

namespace attache::agent {

SleepInhibitor::~SleepInhibitor() {
    sd_bus_slot_unref(call_);
}

void SleepInhibitor::take(sd_bus* bus) {
    sd_bus_slot_unref(call_);
    call_ = nullptr;
    const int r =
        sd_bus_call_method_async(bus, &call_, "org.freedesktop.login1", "/org/freedesktop/login1",
                                 "org.freedesktop.login1.Manager", "Inhibit", on_reply, this,
                                 "ssss", "sleep", who_.c_str(), why_.c_str(), "delay");
    if (r < 0)
        log(LogLevel::debug,
            std::string("cannot ask logind for a sleep inhibitor: ") + std::strerror(-r));
}

int SleepInhibitor::on_reply(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
    auto* self = static_cast<SleepInhibitor*>(userdata);
    if (sd_bus_message_is_method_error(m, nullptr)) {
        const sd_bus_error* e = sd_bus_message_get_error(m);
        log(LogLevel::debug,
            std::string("no sleep inhibitor: ") + (e && e->message ? e->message : "error"));
        return 0;
    }
    int fd = -1;
    if (sd_bus_message_read(m, "h", &fd) >= 0 && fd >= 0)
        self->fd_.reset(fcntl(fd, F_DUPFD_CLOEXEC, 3));
    return 0;
}

}  // namespace attache::agent
