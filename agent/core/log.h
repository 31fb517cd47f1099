#pragma once

// attache-agent's log: one line per event on standard error ("attache-agent[pid]: level:
// message"), and audit lines for every key operation with the client's identity and the
// result. Never given a secret: callers log key ids, never data, PINs or plaintexts.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attache::agent {

enum class LogLevel { debug, info, warning, error };

void set_log_level(LogLevel level);
void log(LogLevel level, std::string_view message);
inline void log_info(std::string_view m) {
    log(LogLevel::info, m);
}
inline void log_warning(std::string_view m) {
    log(LogLevel::warning, m);
}
inline void log_error(std::string_view m) {
    log(LogLevel::error, m);
}

// An audit record: "audit: op=sign key=... pid=... uid=... exe=... result=ok".
void audit(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace attache::agent
