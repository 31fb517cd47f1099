#include "agent/core/broker/audit_sink.h"

#include "agent/core/log.h"

namespace attache::agent {

AuditFields audit_fields(const AuditRecord& r) {
    AuditFields fields{{"op", std::string(operation_name(r.operation))},
                       {"via", std::string(channel_name(r.channel))},
                       {r.on_token ? "token" : "key", r.subject}};
    if (r.channel == Channel::logind) {
        // No process asked: the holder whose card it is, and the logind session that ended
        // being the holder at the machine (none for sleep).
        fields.emplace_back("uid", std::to_string(r.client.uid));
        if (!r.client.session_id.empty())
            fields.emplace_back("logind_session", r.client.session_id);
    } else {
        fields.emplace_back("pid", std::to_string(r.client.pid));
        fields.emplace_back("uid", std::to_string(r.client.uid));
        fields.emplace_back("exe", r.client.exe);
        fields.emplace_back("session", std::string(session_kind_name(r.client.session)));
    }
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
