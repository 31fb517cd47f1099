// attache log: the caller's own audit records, as the managed broker keeps them. The broker
// answers with the records whose client uid is the caller's (SO_PEERCRED) and nothing else;
// a personal agent keeps no audit file to answer from and says where its audit lines are.

#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/audit/record_line.h"
#include "cli/command_output.h"
#include "cli/exit_codes.h"
#include "cli/user/agent_access.h"
#include "cli/user/user_commands.h"

namespace attache::cli {
namespace {

nlohmann::json to_json(const protocol::AuditLogReply& r) {
    nlohmann::json records = nlohmann::json::array();
    for (const auto& a : r.records) {
        nlohmann::json record = {{"seq", a.seq}, {"time", a.time}};
        for (const auto& [name, value] : a.fields) {
            if (!record.contains(name))
                record[name] = value;
        }
        records.push_back(std::move(record));
    }
    return {{"records", records}, {"omitted", r.omitted}};
}

// One line per record, its fields written as the audit file writes them (quoted and escaped:
// a value the client chose, such as an executable's path, cannot forge a line).
std::string log_text(const protocol::AuditLogReply& r) {
    std::ostringstream out;
    if (r.omitted > 0)
        out << "(" << r.omitted << " older record(s) left out: they do not fit in one reply)\n";
    if (r.records.empty())
        out << "no audit records of yours\n";
    for (const auto& a : r.records) {
        audit::Fields fields = {{"time", a.time}, {"seq", std::to_string(a.seq)}};
        fields.insert(fields.end(), a.fields.begin(), a.fields.end());
        out << audit::encode_body(fields) << "\n";
    }
    return out.str();
}

}  // namespace

void add_log_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand(
        "log",
        "Show your own audit records (managed mode: the broker's audit file, your records "
        "only). A personal agent keeps no audit file: its audit lines are in its log "
        "(journalctl --user -u attache-agent, or ~/.local/state/attache/agent.log)");
    auto last = std::make_shared<uint32_t>(50);
    cmd->add_option("--last", *last, "How many of your newest records (1 to 1000)")
        ->check(CLI::Range(uint32_t{1}, static_cast<uint32_t>(protocol::kMaxAuditRecords)));
    auto json = std::make_shared<bool>(false);
    add_output_flags(*cmd, *json);
    cmd->callback([json, last, &exit_code] {
        run_command(*json, exit_code, [last] {
            auto client = connect_agent();
            auto reply = client.call(protocol::AuditLogRequest{*last});
            if (!reply)
                throw CommandFailure(kFailure,
                                     "the connection to the agent failed: restart it and retry",
                                     reply.error().message());
            if (auto* e = std::get_if<protocol::ErrorReply>(&*reply)) {
                if (e->message.starts_with("unknown request type"))
                    fail(kFailure,
                         "the agent does not answer `attache log`: it is older than "
                         "this attache",
                         e->message);
                // The agent's own words say where the records are (or why it cannot read them).
                throw CommandFailure(
                    e->code == protocol::ErrorCode::bad_request ? kFailure : exit_code_for(e->code),
                    e->message);
            }
            auto* log = std::get_if<protocol::AuditLogReply>(&*reply);
            if (log == nullptr)
                fail(kFailure,
                     "the agent sent an unexpected reply: is it the same version as attache?");
            return Report{to_json(*log), log_text(*log)};
        });
    });
}

}  // namespace attache::cli
