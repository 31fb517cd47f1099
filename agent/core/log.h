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

using AuditFields = std::vector<std::pair<std::string, std::string>>;

// An audit record: "audit: op=sign key=... pid=... uid=... exe=... result=ok".
void audit(const AuditFields& fields);

// Holds the audit records of the calling thread while it lives, and writes them when flushed
// or destroyed: a connection thread sends its reply first and writes the operation's record
// right after, before it reads the next request, so the write is not part of the client's
// wait. Nothing is dropped: a record always reaches the log before the thread serves anything
// else. Not nestable.
class DeferredAudit {
  public:
    DeferredAudit();
    ~DeferredAudit();
    DeferredAudit(const DeferredAudit&) = delete;
    DeferredAudit& operator=(const DeferredAudit&) = delete;
    void flush();

  private:
    std::vector<AuditFields> records_;
};

// Where log lines and audit records go instead of standard error (the journal, when systemd
// connected standard error to it: agent/workstation/journal.h).
class LogSink {
  public:
    virtual ~LogSink() = default;
    virtual void write(LogLevel level, std::string_view message) = 0;
    // `line` is the record as standard error would show it.
    virtual void audit(const AuditFields& fields, std::string_view line) = 0;
};

// Not owned; must live until logging ends (install a static one). nullptr: standard error.
void set_log_sink(LogSink* sink);

// The default destination, for sinks that add to it: one line on standard error.
void log_to_stderr(LogLevel level, std::string_view message);
// Lines on standard error start with the UTC time (when it is a log file of the agent's own;
// the journal stamps its entries itself).
void set_log_timestamps(bool on);

}  // namespace attache::agent
