#include "agent/core/broker/audit_sink.h"

#include "agent/core/log.h"

namespace attache::agent {

AuditFields audit_fields(const AuditRecord& r) {
    AuditFields fields{{"op", std::string(operation_name(r.operation))},
                       {"via", std::string(channel_name(r.channel))},
                       {r.on_token ? "token" : "key", r.subject},
                       {"pid", std::to_string(r.client.pid)},
                       {"uid", std::to_string(r.client.uid)},
                       {"exe", r.client.exe},
                       {"session", std::string(session_kind_name(r.client.session))}};
    if (!r.rule.empty())
        fields.emplace_back("rule", r.rule);
    if (!r.confirmation.empty())
        fields.emplace_back("confirm", r.confirmation);
    if (r.channel == Channel::ssh) {
        if (!r.ssh_destination.empty())
            fields.emplace_back("destination", r.ssh_destination);
        if (!r.sshsig_namespace.empty())
            fields.emplace_back("namespace", r.sshsig_namespace);
        if (r.ssh_forwarded)
            fields.emplace_back("forwarded", "yes");
    }
    fields.emplace_back("result", r.result);
    if (!r.step.empty())
        fields.emplace_back("stopped_by", r.step);
    if (!r.reason.empty())
        fields.emplace_back("reason", r.reason);
    return fields;
}

void LogAuditSink::record(const AuditRecord& r) {
    audit(audit_fields(r));
}

}  // namespace attache::agent
