// attache retire: destroys the keys and certificates an inventory record lists (every object on
// the card with one of its CKA_IDs) after the operator types the card's serial number, then
// marks the record retired. Other objects on the card (issuer certificates, keys the record does
// not list) are left alone. If an object cannot be destroyed, the record keeps its state.

#include <ctime>

#include "cli/admin/confirm.h"
#include "cli/admin/failure.h"
#include "cli/admin/interrupt.h"
#include "cli/admin/inventory.h"
#include "cli/admin/inventory_json.h"
#include "cli/admin/key_checks.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/options.h"
#include "cli/admin/pins.h"
#include "cli/admin/registration.h"
#include "cli/admin/token_select.h"
#include "cli/command_output.h"

namespace attache::cli::admin {
namespace {

struct RetireOptions {
    std::string module;
    std::string token;
    std::string inventory;
    std::string pin_source;
    std::int64_t record = 0;
    std::string reason = "retired with attache retire";
    std::string confirm;
    bool json = false;
};

// The CKA_ID the inventory keeps in hex; a record that is not hex is refused.
Bytes from_hex(const std::string& text) {
    auto nibble = [&](char c) -> uint8_t {
        if (c >= '0' && c <= '9')
            return static_cast<uint8_t>(c - '0');
        if (c >= 'a' && c <= 'f')
            return static_cast<uint8_t>(c - 'a' + 10);
        if (c >= 'A' && c <= 'F')
            return static_cast<uint8_t>(c - 'A' + 10);
        fail(kInventory, "the inventory holds a malformed CKA_ID '" + text + "'");
    };
    if (text.empty() || text.size() % 2 != 0)
        fail(kInventory, "the inventory holds a malformed CKA_ID '" + text + "'");
    Bytes out;
    for (size_t i = 0; i < text.size(); i += 2)
        out.push_back(static_cast<uint8_t>(nibble(text[i]) << 4 | nibble(text[i + 1])));
    return out;
}

Enrolment record_for(Inventory& inventory, const SelectedToken& token, std::int64_t id) {
    if (id != 0) {
        auto e = check(inventory.get(id), {}, kInventory);
        if (!e)
            fail(kInventory, "no record " + std::to_string(id) + " in " + inventory.path());
        if (e->token_serial != token.info.serial)
            fail(kMismatch, "record " + std::to_string(id) + " is for card serial " +
                                e->token_serial + ", not " + token.info.serial +
                                "; nothing was changed");
        if (e->state == CardState::retired)
            fail(kInventory, "record " + std::to_string(id) + " is already retired");
        return std::move(*e);
    }
    auto e = check(inventory.open_enrolment(token.info.serial), {}, kInventory);
    if (!e)
        fail(kInventory, "card serial " + token.info.serial + " has no open enrolment in " +
                             inventory.path() +
                             "; to wipe it anyway use `attache enrol --init "
                             "--force`. Nothing was changed");
    return std::move(*e);
}

Report retire(const RetireOptions& o) {
    if (o.reason.find_first_not_of(" \t") == std::string::npos)
        fail(kUsage, "--reason must say why");
    Inventory inventory = check(Inventory::open(o.inventory, false), {}, kInventory);
    SelectedToken token = select_token(o.module, o.token);
    Enrolment record = record_for(inventory, token, o.record);

    auto session = check(token.module.open_session(token.slot, true), "opening a session");
    login(session, token, o.pin_source, PinRole::user);

    struct Target {
        CK_OBJECT_HANDLE handle;
        CK_OBJECT_CLASS klass;
        std::string key_id;
    };
    std::vector<Target> targets;
    for (const KeyRecord& k : record.keys) {
        p11::AttributeTemplate t;
        t.add_bytes(CKA_ID, from_hex(k.key_id));
        for (CK_OBJECT_HANDLE h : check(session.find(t), "finding the card's objects")) {
            auto v = session.read(h, {CKA_CLASS});
            CK_OBJECT_CLASS klass = v ? v->ulong(CKA_CLASS).value_or(CKO_DATA) : CKO_DATA;
            targets.push_back({h, klass, k.key_id});
        }
    }
    // Private keys first: once they are gone the card can no longer act for the holder.
    std::stable_sort(targets.begin(), targets.end(), [](const Target& a, const Target& b) {
        return (a.klass == CKO_PRIVATE_KEY) > (b.klass == CKO_PRIVATE_KEY);
    });
    size_t private_keys = 0, certificates = 0;
    for (const Target& t : targets) {
        private_keys += t.klass == CKO_PRIVATE_KEY;
        certificates += t.klass == CKO_CERTIFICATE;
    }

    const std::string what = std::to_string(targets.size()) + " object(s) (" +
                             std::to_string(private_keys) + " private key(s), " +
                             std::to_string(certificates) + " certificate(s)) of " + record.holder +
                             " on card serial " + token.info.serial;
    confirm_serial("This destroys " + what + " for good", token.info.serial, o.confirm);

    InterruptGuard interrupt;  // a few quick deletions: finish them rather than stop half-way
    std::vector<std::string> left;
    for (const Target& t : targets) {
        if (Status s = session.destroy(t.handle); !s)
            left.push_back("CKA_ID " + t.key_id + ": " + s.error().message());
    }
    if (!left.empty()) {
        fail(kFailure, std::to_string(left.size()) + " object(s) could not be destroyed (" +
                           join(left) + "); inventory record " + std::to_string(record.id) +
                           " stays " + std::string(state_name(record.state)) +
                           ". Run `attache retire` again");
    }
    check(inventory.change_state(record.id, CardState::retired, o.reason, Operator::current(),
                                 time_string(std::time(nullptr))),
          "the card's objects were destroyed but the inventory could not be updated "
          "(set the record's state by hand with `attache inventory set-state`)",
          kInventory);
    auto after = check(inventory.get(record.id), {}, kInventory);

    Report report;
    report.json = {{"record", record.id},
                   {"state", state_name(CardState::retired)},
                   {"destroyed",
                    {{"objects", targets.size()},
                     {"private_keys", private_keys},
                     {"certificates", certificates}}},
                   {"enrolment", after ? enrolment_json(*after, true) : nlohmann::json()}};
    report.text =
        "Destroyed " + what + ".\nInventory record " + std::to_string(record.id) + " is retired.";
    return report;
}

}  // namespace

void add_retire_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<RetireOptions>();
    CLI::App* cmd = app.add_subcommand(
        "retire", "Destroy a holder's keys and certificates on the card and retire its record");
    add_module_option(*cmd, o->module);
    add_token_option(*cmd, o->token, true);
    cmd->add_option("--record", o->record,
                    "the inventory record (default: the card's open record)");
    cmd->add_option("--reason", o->reason, "why (kept in the record's history)")
        ->capture_default_str();
    cmd->add_option("--confirm", o->confirm,
                    "the card's serial number, typed in advance (for scripts); without it the "
                    "command asks on the terminal");
    add_inventory_option(*cmd, o->inventory);
    add_secret_source_option(*cmd, "--pin-source", o->pin_source, "user PIN");
    add_output_flags(*cmd, o->json);
    cmd->callback([o, &exit_code] { run_command(o->json, exit_code, [o] { return retire(*o); }); });
}

}  // namespace attache::cli::admin
