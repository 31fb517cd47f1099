#include "agent/core/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace attache::agent {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};
std::atomic<LogSink*> g_sink{nullptr};
std::atomic<bool> g_timestamps{false};

std::mutex& log_mutex() {
    static std::mutex& m = *new std::mutex;
    return m;
}

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warning:
            return "warning";
        case LogLevel::error:
            return "error";
    }
    return "?";
}

void append_hex_escape(std::string& out, unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
}

// Values are quoted when they contain spaces, quotes or control characters.
std::string quote(const std::string& v) {
    bool plain = !v.empty();
    for (unsigned char c : v) {
        if (c <= ' ' || c == '"' || c == '\\' || c >= 0x7f)
            plain = false;
    }
    if (plain)
        return v;
    std::string out = "\"";
    for (unsigned char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < ' ' || c == 0x7f) {
            append_hex_escape(out, c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

// A log line is one line whatever a client sent: control characters (newlines among them)
// become \xNN, so no client string can forge a line of its own.
std::string one_line(std::string_view message) {
    std::string out;
    out.reserve(message.size());
    for (unsigned char c : message) {
        if (c < ' ' || c == 0x7f) {
            append_hex_escape(out, c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace

void set_log_level(LogLevel level) {
    g_level = level;
}

void set_log_sink(LogSink* sink) {
    g_sink = sink;
}

void set_log_timestamps(bool on) {
    g_timestamps = on;
}

void log_to_stderr(LogLevel level, std::string_view message) {
    char stamp[32] = "";
    if (g_timestamps.load()) {
        const std::time_t now = std::time(nullptr);
        std::tm utc{};
        gmtime_r(&now, &utc);
        std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &utc);
    }
    std::lock_guard lock(log_mutex());
    std::fprintf(stderr, "%sattache-agent[%d]: %s: %.*s\n", stamp, static_cast<int>(getpid()),
                 level_name(level), static_cast<int>(message.size()), message.data());
    std::fflush(stderr);
}

void log(LogLevel level, std::string_view raw_message) {
    if (level < g_level.load())
        return;
    const std::string message = one_line(raw_message);
    if (LogSink* sink = g_sink.load()) {
        sink->write(level, message);
        return;
    }
    log_to_stderr(level, message);
}

namespace {

thread_local std::vector<AuditFields>* t_deferred = nullptr;

void write_audit(const AuditFields& fields) {
    std::string line = "audit:";
    for (const auto& [k, v] : fields)
        line += " " + k + "=" + quote(v);
    if (LogSink* sink = g_sink.load()) {
        sink->audit(fields, line);
        return;
    }
    log(LogLevel::info, line);
}

}  // namespace

void audit(const AuditFields& fields) {
    if (t_deferred != nullptr) {
        t_deferred->push_back(fields);
        return;
    }
    write_audit(fields);
}

DeferredAudit::DeferredAudit() {
    t_deferred = &records_;
}

DeferredAudit::~DeferredAudit() {
    flush();
    t_deferred = nullptr;
}

void DeferredAudit::flush() {
    for (const auto& r : records_)
        write_audit(r);
    records_.clear();
}

}  // namespace attache::agent
