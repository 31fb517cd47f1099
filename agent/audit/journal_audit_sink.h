#pragma once

// Audit records in the system journal, one entry per record with the ATTACHE_* fields of
// agent/workstation/journal.h (ATTACHE_OP, ATTACHE_KEY, ATTACHE_CLIENT_UID, ...) and the audit
// MESSAGE_ID, so that `journalctl MESSAGE_ID=4f0c1f3e5b8a4d2a9e61c7b0d3a5f812` lists them. The
// journal is a second copy kept by another process (journald, root's): deleting a record from
// the audit file does not delete it there.
//
// Without a journal (no systemd as PID 1, journald stopped) sending fails; the sink says so
// once in the agent's log (again after the journal came back and went away again) and goes
// on: the other sinks still keep the records.

#include <mutex>
#include <string>
#include <vector>

#include "agent/core/broker/audit_sink.h"

namespace attache::audit {

// The journal entry for a record: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, MESSAGE_ID and the
// ATTACHE_* fields, each "NAME=value".
std::vector<std::string> journal_entry(const agent::AuditRecord& record);

class JournalAuditSink : public agent::AuditSink {
  public:
    void record(const agent::AuditRecord& record) override;

  private:
    std::mutex mutex_;
    bool failing_ = false;  // guarded by mutex_: the last send failed and was reported
};

}  // namespace attache::audit
