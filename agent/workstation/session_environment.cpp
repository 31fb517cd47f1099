#include "agent/workstation/session_environment.h"

#include <systemd/sd-bus.h>

#include <array>
#include <cstdlib>
#include <string_view>

namespace attache::agent {
namespace {

constexpr std::array<std::string_view, 11> kSessionVariables = {
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "XDG_SESSION_TYPE",
    "XDG_CURRENT_DESKTOP",
    "DBUS_SESSION_BUS_ADDRESS",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
};

}  // namespace

std::vector<std::string> session_variables(const std::vector<std::string>& environment) {
    std::vector<std::string> out;
    for (const auto& entry : environment) {
        const std::string_view name = std::string_view(entry).substr(0, entry.find('='));
        if (entry.find('=') == std::string::npos)
            continue;
        for (std::string_view wanted : kSessionVariables) {
            if (name == wanted)
                out.push_back(entry);
        }
    }
    return out;
}

std::vector<std::string> user_manager_session_variables() {
    sd_bus* bus = nullptr;
    if (sd_bus_open_user(&bus) < 0)
        return {};
    sd_bus_error error = SD_BUS_ERROR_NULL;
    char** strv = nullptr;
    // A short timeout: the prompt must not wait long for a busy manager.
    (void)sd_bus_set_method_call_timeout(bus, 2'000'000);
    const int r =
        sd_bus_get_property_strv(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                 "org.freedesktop.systemd1.Manager", "Environment", &error, &strv);
    sd_bus_error_free(&error);
    sd_bus_flush_close_unref(bus);
    std::vector<std::string> environment;
    if (r >= 0 && strv != nullptr) {
        for (char** e = strv; *e != nullptr; ++e) {
            environment.emplace_back(*e);
            std::free(*e);
        }
        std::free(strv);
    }
    return session_variables(environment);
}

}  // namespace attache::agent
