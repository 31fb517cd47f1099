// attache verify-card: re-checks a card against its inventory record. For every key the record
// lists: exactly one private key with its CKA_ID is on the card; it is still card-born and
// card-bound (CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_SENSITIVE, not
// CKA_EXTRACTABLE) with only its intended usages; its public key has the recorded SPKI SHA-256;
// it answers a fresh random challenge for that public key (a signature, or for a key the module
// allows only decryption or ECDH, a decryption or a shared secret: possession.h), so the private
// key really is the recorded one; and its certificate is the recorded one. On a PIV card through
// OpenSC the usage attributes are OpenSC's per-slot choice and are not compared, and CKA_LOCAL
// and the like are OpenSC's claim: the proof of origin is the enrolment's record (the public key
// came from the card's GENERATE answer, piv_enrol.h). The card itself must be
// the recorded one (serial, model) and hold no private key the record does not list.
// Any failure: exit code kMismatch (a substituted card, a re-keyed card).
// A card whose record says it must not be used (lost, damaged, retired) is reported as such,
// naming the record and since when, without a PIN and without checking its keys.

#include "cli/admin/card_type.h"
#include "cli/admin/failure.h"
#include "cli/admin/inventory.h"
#include "cli/admin/key_checks.h"
#include "cli/admin/key_plan.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/options.h"
#include "cli/admin/pins.h"
#include "cli/admin/possession.h"
#include "cli/admin/registration.h"
#include "cli/admin/token_select.h"
#include "cli/command_output.h"
#include "pkcs11/keys.h"

namespace attache::cli::admin {
namespace {

struct VerifyOptions {
    std::string module;
    std::string token;
    std::string inventory;
    std::string pin_source;
    std::int64_t record = 0;
    bool json = false;
};

p11::KeyUsage expected_usage(const KeyRecord& k) {
    p11::KeyUsage usage;
    usage.sign = true;
    if (k.role == "encryption") {
        auto alg = p11::key_algorithm_from_name(k.key_type);
        const bool rsa = alg && is_rsa(*alg);
        usage.decrypt = rsa;
        usage.derive = !rsa;
    }
    return usage;
}

// The problems of one recorded key on the card (empty: it checks out).
// `piv`: a PIV card through OpenSC, whose usage attributes are OpenSC's fixed choice for each
// slot (9D: decrypt or derive only), not something the card stores or enrolment chose: they are
// not compared with the enrolment's; possession is still proved by what the key allows.
std::vector<std::string> check_key(const p11::Session& session, const KeyRecord& recorded,
                                   const std::vector<const p11::KeyObject*>& on_card, bool piv) {
    if (on_card.empty())
        return {"no private key with this CKA_ID is on the card"};
    if (on_card.size() > 1)
        return {std::to_string(on_card.size()) + " private keys on the card have this CKA_ID"};
    const p11::KeyObject& key = *on_card.front();
    std::vector<std::string> problems;

    auto values = read_private_key_checks(session, key.private_key);
    if (!values) {
        problems.push_back("its attributes cannot be read: " + values.error().message());
    } else {
        for (auto& p : provenance_problems(*values, recorded.role == "card-auth"))
            problems.push_back(std::move(p));
        if (!piv) {
            for (auto& p : usage_problems(*values, expected_usage(recorded)))
                problems.push_back(std::move(p));
        }
    }

    if (!key.pkey) {
        problems.push_back("no public key object or certificate gives its public key");
        return problems;
    }
    const std::string spki = sha256_hex(key.spki);
    if (spki != recorded.spki_sha256) {
        problems.push_back("its public key's SPKI SHA-256 is " + spki + ", the inventory has " +
                           recorded.spki_sha256);
        return problems;
    }
    // Proof of possession: the private key answers for the recorded public key.
    if (values) {
        if (Status proof =
                prove_possession(session, key.private_key, key.pkey.get(), *values, key.label);
            !proof)
            problems.push_back(proof.error().message());
    }

    if (recorded.certificate) {
        if (key.certificate_der.empty())
            problems.push_back("its certificate " + recorded.certificate->serial +
                               " is not on the card");
        else if (sha256_hex(key.certificate_der) != recorded.certificate->sha256)
            problems.push_back("the certificate on the card is not the recorded one (" +
                               recorded.certificate->serial + ")");
    } else if (!key.certificate_der.empty()) {
        problems.push_back(
            "the card holds a certificate for it that the inventory does not "
            "record");
    }
    return problems;
}

// When the record's state began: its newest event that moved it there.
std::string state_since(const Enrolment& e) {
    const std::string state(state_name(e.state));
    for (auto ev = e.events.rbegin(); ev != e.events.rend(); ++ev) {
        if (ev->to_state == state && ev->from_state.value_or("") != state)
            return ev->at;
    }
    return e.updated_at;
}

bool must_not_be_used(CardState state) {
    return state == CardState::lost || state == CardState::damaged || state == CardState::retired;
}

Report unusable_card(const SelectedToken& token, const Enrolment& record) {
    const std::string state(state_name(record.state));
    const std::string since = state_since(record);
    std::string problem = "card serial " + token.info.serial + " is recorded as " + state +
                          " since " + since + " (record " + std::to_string(record.id) +
                          ", holder " + record.holder + "); it must not be used";
    problem += record.state == CardState::retired
                   ? ". Enrol it again before anyone uses it"
                   : ". Keep it, have its certificates revoked, and retire it (`attache retire`)";
    Report report;
    report.json = {{"token", token.uri},
                   {"serial", token.info.serial},
                   {"record", record.id},
                   {"holder", record.holder},
                   {"state", state},
                   {"since", since},
                   {"keys", nlohmann::json::array()},
                   {"card_problems", {problem}},
                   {"ok", false}};
    report.text = "MISMATCH: " + problem + ".\n";
    report.exit_code = kMismatch;
    return report;
}

Report verify_card(const VerifyOptions& o) {
    Inventory inventory = check(Inventory::open(o.inventory, true), {}, kInventory);
    SelectedToken token = select_token(o.module, o.token);

    std::optional<Enrolment> record;
    if (o.record != 0) {
        record = check(inventory.get(o.record), {}, kInventory);
        if (!record)
            fail(kInventory, "no record " + std::to_string(o.record) + " in " + o.inventory);
    } else {
        record = check(inventory.open_enrolment(token.info.serial), {}, kInventory);
        if (!record) {
            // Only retired records are left: the newest says what became of the card.
            auto all = check(inventory.list({std::nullopt, std::nullopt, token.info.serial}), {},
                             kInventory);
            if (!all.empty())
                return unusable_card(token, all.back());
            fail(kMismatch, "MISMATCH: card " + token.describe() + " has no record in " +
                                o.inventory +
                                ": it is not a card this inventory issued "
                                "(substituted?)");
        }
    }
    if (must_not_be_used(record->state) && record->token_serial == token.info.serial)
        return unusable_card(token, *record);

    std::vector<std::string> card_problems;
    if (record->token_serial != token.info.serial)
        card_problems.push_back("the card's serial is " + token.info.serial + ", record " +
                                std::to_string(record->id) + " is for " + record->token_serial +
                                " (substituted card?)");
    if (record->token_model != token.info.model ||
        record->token_manufacturer != token.info.manufacturer)
        card_problems.push_back("the card is a " + token.info.manufacturer + " " +
                                token.info.model + ", the record has a " +
                                record->token_manufacturer + " " + record->token_model);

    const bool piv = card_type_of(token).path == EnrolmentPath::piv;
    auto session = check(token.module.open_session(token.slot, false), "opening a session");
    login(session, token, o.pin_source, PinRole::user);
    auto keys = check(p11::find_keys(session), "listing the card's keys");

    Report report;
    nlohmann::json key_results = nlohmann::json::array();
    std::string text = "Card " + token.describe() + ", inventory record " +
                       std::to_string(record->id) + " (" + record->holder + ", " +
                       std::string(state_name(record->state)) + ")\n";
    bool all_ok = card_problems.empty();
    for (const KeyRecord& recorded : record->keys) {
        std::vector<const p11::KeyObject*> on_card;
        for (const p11::KeyObject& k : keys) {
            if (hex(k.id) == recorded.key_id)
                on_card.push_back(&k);
        }
        auto problems = check_key(session, recorded, on_card, piv);
        all_ok = all_ok && problems.empty();
        key_results.push_back({{"role", recorded.role},
                               {"key_id", recorded.key_id},
                               {"label", recorded.label},
                               {"ok", problems.empty()},
                               {"problems", problems}});
        text +=
            "  " + recorded.role + " key " + recorded.key_id + ": " +
            (problems.empty() && piv
                 ? std::string("OK (in its PIV slot; fingerprint and challenge match; card-born "
                               "as recorded at enrolment, from the card's GENERATE answer)")
             : problems.empty() ? std::string("OK (on the card, card-born, never extractable, "
                                              "fingerprint and challenge match)")
                                : "MISMATCH\n    - " + join(problems, "\n    - ")) +
            "\n";
    }
    for (const p11::KeyObject& k : keys) {
        if (record->key(hex(k.id)) == nullptr)
            card_problems.push_back("the card holds a private key the record does not list: '" +
                                    k.label + "' (CKA_ID " + hex(k.id) + ")");
    }
    all_ok = all_ok && card_problems.empty();
    for (const std::string& p : card_problems)
        text += "  card: MISMATCH - " + p + "\n";
    text +=
        all_ok ? "The card matches the inventory.\n" : "The card does NOT match the inventory.\n";

    report.json = {{"token", token.uri},
                   {"serial", token.info.serial},
                   {"record", record->id},
                   {"holder", record->holder},
                   {"state", state_name(record->state)},
                   {"keys", key_results},
                   {"card_problems", card_problems},
                   {"ok", all_ok}};
    report.text = text;
    report.exit_code = all_ok ? kOk : kMismatch;
    return report;
}

}  // namespace

void add_verify_card_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<VerifyOptions>();
    CLI::App* cmd = app.add_subcommand(
        "verify-card",
        "Check that every key the inventory lists is on the card, card-born, never extractable "
        "and the recorded one");
    add_module_option(*cmd, o->module);
    add_token_option(*cmd, o->token, true);
    cmd->add_option("--record", o->record,
                    "the inventory record to check against (default: the card's open record)");
    add_inventory_option(*cmd, o->inventory);
    add_secret_source_option(*cmd, "--pin-source", o->pin_source, "user PIN");
    add_output_flags(*cmd, o->json);
    cmd->callback(
        [o, &exit_code] { run_command(o->json, exit_code, [o] { return verify_card(*o); }); });
}

}  // namespace attache::cli::admin
