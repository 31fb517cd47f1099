#pragma once

// The broker's audit sinks from configuration, in one call, for main() to wire:
//
//   ATTACHE_TRY(auto sink, audit::make_audit_sink({.journal = true,
//                                                   .file = audit::kDefaultAuditFile}));
//   Broker broker(..., *sink, ...);
//
// The file sink needs its key: a key file that is missing, readable by others or of the wrong
// size is an error, so a managed broker does not start without its audit.

#include <memory>
#include <string>

#include "agent/audit/audit_file.h"
#include "agent/audit/audit_key.h"
#include "agent/audit/chained_file_sink.h"
#include "agent/core/broker/audit_sink.h"

namespace attache::audit {

struct AuditConfig {
    bool agent_log = true;  // audit lines in the agent's log (LogAuditSink)
    bool journal = false;   // the system journal (JournalAuditSink)
    std::string file;       // the chained audit file; empty: none
    std::string key_file = kDefaultKeyPath;
    FsyncPolicy fsync = FsyncPolicy::background;
};

Result<std::unique_ptr<agent::AuditSink>> make_audit_sink(const AuditConfig& config);

}  // namespace attache::audit
