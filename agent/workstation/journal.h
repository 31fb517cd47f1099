#pragma once

// The agent's log in the journal. Under systemd, standard error is a stream to journald
// ($JOURNAL_STREAM names it); the agent then sends each line as a journal entry with a
// priority, and each audit record with structured fields a query can select:
//
//   journalctl --user -u attache-agent MESSAGE_ID=4f0c1f3e5b8a4d2a9e61c7b0d3a5f812
//   journalctl --user ATTACHE_OP=sign ATTACHE_RESULT=ok
//
// ATTACHE_OP, ATTACHE_KEY, ATTACHE_TOKEN, ATTACHE_VIA, ATTACHE_CLIENT_PID, ATTACHE_CLIENT_UID,
// ATTACHE_CLIENT_EXE and ATTACHE_RESULT carry the audit record's values. Started by hand in the
// foreground, the agent keeps writing to standard error; forked into the background, it sends
// the same entries to the journal when one runs (journal_available()).

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

// Whether a journal listens on this machine (/run/systemd/journal/socket is a socket): a forked
// agent then logs there, else to its log file (agent/workstation/log_file.h).
bool journal_available();

// The sink log_to_journal() installs (never destroyed).
LogSink& journal_sink();

// Sends the log to the journal from now on (for the rest of the process).
void log_to_journal();

}  // namespace attache::agent
