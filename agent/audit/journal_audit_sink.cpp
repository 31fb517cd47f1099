#include "agent/audit/journal_audit_sink.h"

#include <sys/uio.h>
#include <syslog.h>
// The CODE_FILE/CODE_LINE the macros would add name this file, not the event's origin.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include <cerrno>
#include <cstring>

#include "agent/audit/record_line.h"
#include "agent/core/log.h"
#include "agent/workstation/journal.h"

namespace attache::audit {

std::vector<std::string> journal_entry(const agent::AuditRecord& record) {
    const agent::AuditFields fields = agent::audit_fields(record);
    std::vector<std::string> entry{
        "MESSAGE=audit: " + encode_body(fields), "PRIORITY=" + std::to_string(LOG_INFO),
        "SYSLOG_IDENTIFIER=attache-broker", std::string("MESSAGE_ID=") + agent::kAuditMessageId};
    for (auto& f : agent::audit_journal_fields(fields))
        entry.push_back(std::move(f));
    return entry;
}

void JournalAuditSink::record(const agent::AuditRecord& record) {
    const std::vector<std::string> entry = journal_entry(record);
    std::vector<iovec> iov;
    iov.reserve(entry.size());
    for (const auto& f : entry)
        iov.push_back({const_cast<char*>(f.data()), f.size()});
    // sd_journal_sendv() succeeds silently when no journal listens: ask first.
    const int rc = agent::journal_available()
                       ? sd_journal_sendv(iov.data(), static_cast<int>(iov.size()))
                       : -ENOENT;
    std::lock_guard lock(mutex_);
    if (rc < 0 && !failing_) {
        failing_ = true;
        agent::log_warning(std::string("audit: cannot write to the system journal (") +
                           std::strerror(-rc) +
                           "): audit records go to the other audit sinks only");
    } else if (rc >= 0 && failing_) {
        failing_ = false;
        agent::log_info("audit: writing to the system journal again");
    }
}

}  // namespace attache::audit
