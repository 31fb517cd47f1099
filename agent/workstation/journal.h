#pragma once

// The agent's log in the journal. Under systemd, standard error is a stream to journald
// ($JOURNAL_STREAM names it); the agent then sends each line as a journal entry with a
// priority, and each audit record with structured fields a query can select:
//
//   journalctl --user -u attache-agent MESSAGE_ID=4f0c1f3e5b8a4d2a9e61c7b0d3a5f812
//   journalctl --user ATTACHE_OP=sign ATTACHE_RESULT=ok
//
// ATTACHE_OP, ATTACHE_KEY, ATTACHE_TOKEN, ATTACHE_VIA, ATTACHE_CLIENT_PID, ATTACHE_CLIENT_UID,
// ATTACHE_CLIENT_EXE and ATTACHE_RESULT carry the audit record's values. Started by hand, the
// agent keeps writing to standard error.

#include <string>
#include <vector>

#include "agent/core/log.h"

namespace attache::agent {

// The MESSAGE_ID of every audit record.
inline constexpr const char* kAuditMessageId = "4f0c1f3e5b8a4d2a9e61c7b0d3a5f812";

// True when $JOURNAL_STREAM names the device and inode of standard error.
bool stderr_is_journal();

// "NAME=value" journal fields for an audit record (without MESSAGE and PRIORITY).
std::vector<std::string> audit_journal_fields(const AuditFields& fields);

// Sends the log to the journal from now on (for the rest of the process).
void log_to_journal();

}  // namespace attache::agent
