#pragma once

// Audit records of the broker: one per operation, whatever its end (done, refused by a step,
// failed on the token), typed, and given to one injected sink. The agent's sink writes them
// as audit lines (agent/core/log.h, and the journal); tests record them.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/core/log.h"
#include "agent/request/context.h"
#include "pkcs11/result.h"

namespace attache::agent {

struct AuditRecord {
    OperationKind operation = OperationKind::sign;
    Channel channel = Channel::native;
    // What the operation was on: a key id, a token serial, or — when the lookup failed — the
    // reference as the client sent it.
    bool on_token = false;  // "token=" rather than "key="
    std::string subject;
    ClientFacts client;
    std::string result;        // "ok", "already-unlocked", "2-locked", or an error code name
    std::string step;          // the step that stopped the chain; empty when it ran through
    std::string reason;        // why it stopped, as the client was told
    std::string rule;          // the policy rule that decided
    std::string confirmation;  // "", "confirmed", "remembered", "denied", "timed-out", ...
    std::string ssh_destination;
    std::string sshsig_namespace;
    bool ssh_forwarded = false;
};

// The record's fields in their fixed order (names as the audit line shows them): what every
// sink writes, the log line, the journal entry and the chained audit file alike.
AuditFields audit_fields(const AuditRecord& record);

class AuditSink {
  public:
    virtual ~AuditSink() = default;
    virtual void record(const AuditRecord& record) = 0;
};

// The records one user may read back (`attache log`): managed mode's chained audit file
// (agent/audit/user_log_reader.h). Personal mode has none.
struct UserAuditRecord {
    uint64_t seq = 0;
    std::string time;
    AuditFields fields;  // without seq, chain, time and type
};

class UserAuditReader {
  public:
    virtual ~UserAuditReader() = default;
    // The newest `max_records` operation records whose client uid is `uid`, oldest first.
    virtual Result<std::vector<UserAuditRecord>> records_of(uid_t uid, size_t max_records) = 0;
};

// The agent's sink: audit lines through agent/core/log.h (deferred until the reply is sent on
// a connection thread), e.g.
//   audit: op=sign via=native key=3f2a... pid=42 uid=1000 exe=/usr/bin/foo session=local
//          rule="built-in default rule 4 'confirm the rest'" confirm=confirmed result=ok
class LogAuditSink : public AuditSink {
  public:
    void record(const AuditRecord& record) override;
};

}  // namespace attache::agent
