#include "agent/audit/audit_sinks.h"

#include "agent/audit/fan_out_sink.h"
#include "agent/audit/journal_audit_sink.h"

namespace attache::audit {

Result<std::unique_ptr<agent::AuditSink>> make_audit_sink(const AuditConfig& config) {
    auto sinks = std::make_unique<FanOutAuditSink>();
    if (config.agent_log)
        sinks->add(std::make_unique<agent::LogAuditSink>());
    if (config.journal)
        sinks->add(std::make_unique<JournalAuditSink>());
    if (!config.file.empty()) {
        ATTACHE_TRY(AuditKey key, load_audit_key(config.key_file));
        ATTACHE_TRY(auto file,
                    ChainedFileAuditSink::open(config.file, std::move(key), config.fsync));
        sinks->add(std::move(file));
    }
    return std::unique_ptr<agent::AuditSink>(std::move(sinks));
}

}  // namespace attache::audit
