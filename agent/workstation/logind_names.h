#pragma once

// logind's D-Bus names (org.freedesktop.login1(5)), shared by the watchers and lookups that
// talk to it, and the words for an sd-bus error code.

#include <cstring>
#include <string>

namespace attache::agent::logind {

inline constexpr const char* kService = "org.freedesktop.login1";
inline constexpr const char* kManagerPath = "/org/freedesktop/login1";
inline constexpr const char* kManager = "org.freedesktop.login1.Manager";
inline constexpr const char* kSessionPrefix = "/org/freedesktop/login1/session";
inline constexpr const char* kSession = "org.freedesktop.login1.Session";

// sd-bus returns negative errno values.
inline std::string bus_error(int r) {
    return std::strerror(r < 0 ? -r : r);
}

}  // namespace attache::agent::logind
