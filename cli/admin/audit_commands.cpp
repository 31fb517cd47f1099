// attache audit verify FILE [--key-file PATH]: checks an audit file's chain (agent/audit/
// chain_verify.h) and names its first missing, altered, reordered or foreign record, with its
// line and sequence number. Without the key it checks the order and the chain ids only, and
// says that the MACs were not checked. A broken chain exits with kAuditChainBroken.
//
// attache audit new-key FILE: makes the broker's audit key (32 random bytes, mode 0400); the
// install script runs it once and hands the file to the broker's user.

#include "agent/audit/audit_file.h"
#include "agent/audit/audit_key.h"
#include "agent/audit/chain_verify.h"
#include "cli/admin/registration.h"
#include "cli/command_output.h"

namespace attache::cli::admin {
namespace {

struct VerifyOptions {
    std::string file;
    std::string key_file;
    bool json = false;
};

struct NewKeyOptions {
    std::string file;
    bool json = false;
};

nlohmann::json problem_json(const audit::ChainProblem& p) {
    nlohmann::json j{
        {"kind", audit::chain_break_name(p.kind)}, {"line", p.line}, {"message", p.message}};
    j["seq"] = p.seq ? nlohmann::json(*p.seq) : nlohmann::json(nullptr);
    return j;
}

Report verify(const VerifyOptions& o) {
    std::optional<audit::AuditKey> key;
    if (!o.key_file.empty()) {
        auto loaded = audit::load_audit_key(o.key_file);
        if (!loaded)
            fail(kFailure, loaded.error().message());
        key = std::move(*loaded);
    }
    auto text = audit::read_audit_file(o.file);
    if (!text)
        fail(kFailure, text.error().message() +
                           " (the audit file is readable by root and the "
                           "audit group only)");
    const audit::ChainReport r = audit::verify_chain(*text, key ? &*key : nullptr);

    Report report;
    report.json = {
        {"file", o.file},       {"intact", r.intact()},     {"macs_checked", r.macs_checked},
        {"records", r.records}, {"first_seq", r.first_seq}, {"last_seq", r.last_seq}};
    nlohmann::json restarts = nlohmann::json::array();
    for (const auto& s : r.restarts)
        restarts.push_back({{"line", s.line},
                            {"seq", s.seq},
                            {"after_damage_seq", s.after_damage_seq},
                            {"damage", s.damage}});
    report.json["restarts"] = std::move(restarts);
    if (r.intact()) {
        report.text = "chain intact: " + std::to_string(r.records) + " records, seq " +
                      std::to_string(r.first_seq) + ".." + std::to_string(r.last_seq) + "\n";
    } else {
        const audit::ChainProblem& p = *r.problem;
        report.json["problem"] = problem_json(p);
        report.json["error"] = "the audit chain is broken: " + p.message;
        report.exit_code = kAuditChainBroken;
        report.text = "chain broken (" + std::string(audit::chain_break_name(p.kind)) +
                      "): " + p.message + "\n";
        for (const auto& s : r.restarts)
            report.text += "the broker restarted the chain at line " + std::to_string(s.line) +
                           " (seq " + std::to_string(s.seq) + ") after damage at seq " +
                           s.after_damage_seq + "\n";
    }
    if (!r.macs_checked)
        report.text +=
            "MACs not checked (no --key-file): the order of the records was checked, not who "
            "wrote them\n";
    return report;
}

Report new_key(const NewKeyOptions& o) {
    if (auto made = audit::create_audit_key(o.file); !made)
        fail(kFailure, made.error().message());
    return Report{{{"key_file", o.file}},
                  "Created the audit key " + o.file +
                      " (mode 0400). Give it to the broker's user (chown) and to no one else.\n"};
}

}  // namespace

void add_audit_commands(CLI::App& app, int& exit_code) {
    CLI::App* audit_cmd = app.add_subcommand("audit", "The broker's audit file");
    audit_cmd->require_subcommand(1);

    auto v = std::make_shared<VerifyOptions>();
    CLI::App* verify_cmd = audit_cmd->add_subcommand(
        "verify",
        "Check an audit file's chain: name the first missing, altered, reordered or "
        "foreign record");
    verify_cmd
        ->add_option("file", v->file,
                     "the audit file (" + std::string(audit::kDefaultAuditFile) + ")")
        ->required();
    verify_cmd->add_option("--key-file", v->key_file,
                           "the broker's audit key (" + std::string(audit::kDefaultKeyPath) +
                               "); without it the MACs are not checked");
    add_output_flags(*verify_cmd, v->json);
    verify_cmd->callback(
        [v, &exit_code] { run_command(v->json, exit_code, [v] { return verify(*v); }); });

    auto k = std::make_shared<NewKeyOptions>();
    CLI::App* key_cmd = audit_cmd->add_subcommand(
        "new-key", "Make a new audit key (32 random bytes, mode 0400); never replaces one");
    key_cmd->add_option("file", k->file, "where to write it")->required();
    add_output_flags(*key_cmd, k->json);
    key_cmd->callback(
        [k, &exit_code] { run_command(k->json, exit_code, [k] { return new_key(*k); }); });
}

}  // namespace attache::cli::admin
