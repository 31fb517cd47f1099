#include "agent/workstation/journal.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
// The CODE_FILE/CODE_LINE the macros would add name this file, not the event's origin.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>

namespace attache::agent {
namespace {

// Journal field names: upper-case letters, digits and '_', not starting with '_'.
// The client's pid, uid and executable become ATTACHE_CLIENT_PID, _UID, _EXE.
std::string field_name(const std::string& key) {
    const bool client = key == "pid" || key == "uid" || key == "exe";
    std::string name = client ? "ATTACHE_CLIENT_" : "ATTACHE_";
    for (char c : key) {
        if (c >= 'a' && c <= 'z')
            name += static_cast<char>(c - 'a' + 'A');
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            name += c;
        else
            name += '_';
    }
    return name.substr(0, 64);
}

int priority_of(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return LOG_DEBUG;
        case LogLevel::info:
            return LOG_INFO;
        case LogLevel::warning:
            return LOG_WARNING;
        case LogLevel::error:
            return LOG_ERR;
    }
    return LOG_INFO;
}

void send(const std::vector<std::string>& fields) {
    std::vector<iovec> iov;
    iov.reserve(fields.size());
    for (const auto& f : fields)
        iov.push_back({const_cast<char*>(f.data()), f.size()});
    if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) < 0) {
        // journald is gone: standard error still reaches whoever reads it.
        for (const auto& f : fields) {
            if (f.starts_with("MESSAGE="))
                std::fprintf(stderr, "attache-agent: %s\n", f.c_str() + 8);
        }
    }
}

class JournalSink : public LogSink {
  public:
    void write(LogLevel level, std::string_view message) override {
        send({"MESSAGE=" + std::string(message), "PRIORITY=" + std::to_string(priority_of(level)),
              "SYSLOG_IDENTIFIER=attache-agent"});
    }
    void audit(const AuditFields& fields, std::string_view line) override {
        std::vector<std::string> entry{
            "MESSAGE=" + std::string(line), "PRIORITY=" + std::to_string(LOG_INFO),
            "SYSLOG_IDENTIFIER=attache-agent", std::string("MESSAGE_ID=") + kAuditMessageId};
        for (auto& f : audit_journal_fields(fields))
            entry.push_back(std::move(f));
        send(entry);
    }
};

}  // namespace

bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr)
        return false;
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2)
        return false;
    struct stat st {};
    if (fstat(2, &st) != 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

std::vector<std::string> audit_journal_fields(const AuditFields& fields) {
    std::vector<std::string> out;
    for (const auto& [key, value] : fields)
        out.push_back(field_name(key) + "=" + value);
    return out;
}

bool journal_available() {
    struct stat st {};
    return stat("/run/systemd/journal/socket", &st) == 0 && S_ISSOCK(st.st_mode);
}

LogSink& journal_sink() {
    static JournalSink& sink = *new JournalSink;  // never destroyed: threads may still log
    return sink;
}

void log_to_journal() {
    set_log_sink(&journal_sink());
}

}  // namespace attache::agent
