// attache inventory list|show|set-state|export: reads the inventory, and moves a record between
// states by hand (card_state.h says which moves are allowed), recording who, when and why.

#include <ctime>

#include "cli/admin/card_state.h"
#include "cli/admin/failure.h"
#include "cli/admin/inventory.h"
#include "cli/admin/inventory_json.h"
#include "cli/admin/manifest_export.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/options.h"
#include "cli/admin/registration.h"
#include "cli/command_output.h"
#include "cli/output_option.h"

namespace attache::cli::admin {
namespace {

struct InventoryOptions {
    std::string inventory;
    bool json = false;
    // list
    std::string state;
    std::string holder;
    std::string serial;
    // show, set-state
    std::int64_t record = 0;
    std::string new_state;
    std::string reason;
    // export
    std::string out;
    bool manifest = false;
    std::string signing_key;
};

std::optional<std::string> optional(const std::string& s) {
    return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

Enrolment find_record(Inventory& inventory, std::int64_t id) {
    auto e = check(inventory.get(id), {}, kInventory);
    if (!e)
        fail(kInventory, "no record " + std::to_string(id) + " in " + inventory.path());
    return std::move(*e);
}

std::string join_states(const std::vector<std::string>& states) {
    std::string out;
    for (const std::string& s : states)
        out += (out.empty() ? "" : ", ") + s;
    return out;
}

Report list(const InventoryOptions& o) {
    if (!o.state.empty() && !state_from_name(o.state))
        fail(kUsage,
             "unknown state '" + o.state + "' (expected " + join_states(all_state_names()) + ")");
    Inventory inventory = check(Inventory::open(o.inventory, true), {}, kInventory);
    auto records =
        check(inventory.list({optional(o.state), optional(o.holder), optional(o.serial)}), {},
              kInventory);
    Report report;
    report.json = {{"inventory", o.inventory}, {"records", nlohmann::json::array()}};
    for (const Enrolment& e : records) {
        report.json["records"].push_back(enrolment_json(e, false));
        report.text += enrolment_line(e) + "\n";
    }
    if (records.empty())
        report.text = "No records.\n";
    return report;
}

Report show(const InventoryOptions& o) {
    Inventory inventory = check(Inventory::open(o.inventory, true), {}, kInventory);
    Enrolment e = find_record(inventory, o.record);
    return Report{enrolment_json(e, true), enrolment_text(e)};
}

Report set_state(const InventoryOptions& o) {
    auto to = state_from_name(o.new_state);
    if (!to)
        fail(kUsage, "unknown state '" + o.new_state + "' (expected " +
                         join_states(all_state_names()) + ")");
    if (o.reason.find_first_not_of(" \t") == std::string::npos)
        fail(kUsage, "--reason must say why");
    Inventory inventory = check(Inventory::open(o.inventory, false), {}, kInventory);
    Enrolment e = find_record(inventory, o.record);
    std::string why;
    if (!manual_transition_allowed(e.state, *to, why)) {
        fail(kUsage, "record " + std::to_string(e.id) + " cannot go from " +
                         std::string(state_name(e.state)) + " to " + o.new_state + ": " + why);
    }
    check(inventory.change_state(e.id, *to, o.reason, Operator::current(),
                                 time_string(std::time(nullptr))),
          {}, kInventory);
    Enrolment after = find_record(inventory, o.record);
    return Report{enrolment_json(after, true), "Record " + std::to_string(e.id) + " (" + e.holder +
                                                   ", serial " + e.token_serial +
                                                   "): " + std::string(state_name(e.state)) +
                                                   " -> " + o.new_state + "\n"};
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos)
        return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"')
            out += '"';
        out += c;
    }
    return out + "\"";
}

Report export_all(const InventoryOptions& o) {
    std::optional<OutputFile> out;
    if (!o.out.empty() && o.out != "-")
        out.emplace(prepare_output(o.out));
    Inventory inventory = check(Inventory::open(o.inventory, true), {}, kInventory);
    auto records = check(inventory.list({}), {}, kInventory);
    Report report;
    report.json = {{"application", Inventory::kApplication},
                   {"schema_version", Inventory::kSchemaVersion},
                   {"exported_at", time_string(std::time(nullptr))},
                   {"records", nlohmann::json::array()}};
    // CSV: one row per key, with its record's fields.
    report.text =
        "record,state,holder,subject,email,token_serial,token_model,token_label,enrolled_at,"
        "enrolled_by,role,key_id,label,key_type,spki_sha256,csr,cert_serial,cert_issuer,"
        "cert_not_after,cert_sha256\n";
    // The whole card history, with the events of cards that had no open record.
    report.json["card_events"] = nlohmann::json::array();
    for (const CardEvent& ev : check(inventory.card_events(std::nullopt), {}, kInventory))
        report.json["card_events"].push_back(card_event_json(ev));
    for (const Enrolment& e : records) {
        report.json["records"].push_back(enrolment_json(e, true));
        for (const KeyRecord& k : e.keys) {
            const std::vector<std::string> fields = {std::to_string(e.id),
                                                     std::string(state_name(e.state)),
                                                     e.holder,
                                                     e.subject,
                                                     e.email.value_or(""),
                                                     e.token_serial,
                                                     e.token_model,
                                                     e.token_label,
                                                     e.created_at,
                                                     e.enrolled_by.name,
                                                     k.role,
                                                     k.key_id,
                                                     k.label,
                                                     k.key_type,
                                                     k.spki_sha256,
                                                     k.csr_path,
                                                     k.certificate ? k.certificate->serial : "",
                                                     k.certificate ? k.certificate->issuer : "",
                                                     k.certificate ? k.certificate->not_after : "",
                                                     k.certificate ? k.certificate->sha256 : ""};
            for (size_t i = 0; i < fields.size(); ++i)
                report.text += (i ? "," : "") + csv_field(fields[i]);
            report.text += "\n";
        }
    }
    if (!out)
        return report;
    report.json["ok"] = true;
    commit_output(*out, o.json ? report.json.dump(2) + "\n" : report.text);
    return Report{{{"out", o.out}, {"records", records.size()}},
                  "Exported " + std::to_string(records.size()) + " record(s) to " + o.out + "."};
}

CLI::App* subcommand(CLI::App& parent, const char* name, const char* help,
                     std::shared_ptr<InventoryOptions>& o) {
    o = std::make_shared<InventoryOptions>();
    CLI::App* cmd = parent.add_subcommand(name, help);
    add_inventory_option(*cmd, o->inventory);
    add_output_flags(*cmd, o->json);
    return cmd;
}

}  // namespace

void add_inventory_commands(CLI::App& app, int& exit_code) {
    CLI::App* inv = app.add_subcommand("inventory", "The enrolment inventory");
    inv->require_subcommand(1);
    const std::vector<std::string> states = all_state_names();

    std::shared_ptr<InventoryOptions> l, s, ss, ex;
    CLI::App* list_cmd = subcommand(*inv, "list", "List the enrolment records", l);
    list_cmd->add_option("--state", l->state, "only records in this state");
    list_cmd->add_option("--holder", l->holder, "only this holder's records");
    list_cmd->add_option("--serial", l->serial, "only this card's records");
    list_cmd->callback(
        [l, &exit_code] { run_command(l->json, exit_code, [l] { return list(*l); }); });

    CLI::App* show_cmd = subcommand(*inv, "show", "Show a record, its keys and its history", s);
    show_cmd->add_option("record", s->record, "record number")->required();
    show_cmd->callback(
        [s, &exit_code] { run_command(s->json, exit_code, [s] { return show(*s); }); });

    CLI::App* set_cmd =
        subcommand(*inv, "set-state", "Move a record to another state, saying why", ss);
    set_cmd->add_option("record", ss->record, "record number")->required();
    set_cmd->add_option("state", ss->new_state, "the new state: " + join_states(states))
        ->required();
    set_cmd->add_option("--reason", ss->reason, "why (kept in the record's history)")->required();
    set_cmd->callback(
        [ss, &exit_code] { run_command(ss->json, exit_code, [ss] { return set_state(*ss); }); });

    CLI::App* export_cmd = subcommand(
        *inv, "export",
        "Export every record: CSV (one row per key), or JSON with --json; or, with --manifest, "
        "the signed card manifest of managed workstations",
        ex);
    add_out_option(*export_cmd, ex->out, "Export file (with --manifest: required; FILE.sig too)");
    export_cmd->add_flag("--manifest", ex->manifest,
                         "Write the card manifest (each card's serial, model, holder, state and "
                         "keys' SPKI SHA-256), signed with --signing-key");
    export_cmd->add_option("--signing-key", ex->signing_key,
                           "The admin's manifest signing key (PEM, Ed25519 or P-256); its public "
                           "key goes to /etc/attache/manifest-signer.pem on the workstations");
    export_cmd->callback([ex, &exit_code] {
        run_command(ex->json, exit_code, [ex] {
            if (ex->manifest)
                return export_manifest({ex->inventory, ex->signing_key, ex->out});
            if (!ex->signing_key.empty())
                fail(kUsage, "--signing-key is for --manifest");
            return export_all(*ex);
        });
    });
}

}  // namespace attache::cli::admin
