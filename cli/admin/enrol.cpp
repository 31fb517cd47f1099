// attache enrol: prepares a holder's card. In order, and changing nothing until every check
// has passed:
//   1. inputs: key types, subject DN, e-mail, output directory, inventory (Attache's, known
//      schema, no open record for this card);
//   2. the token: exactly one matches --token; its mechanism list supports the key types;
//   3. --init: C_InitToken + C_InitPIN (token_init.h); otherwise one C_Login as the user;
//   4. two key pairs generated on the card (key_plan.h), their attributes read back
//      (key_checks.h); a wrong attribute deletes them and stops;
//   5. one PKCS#10 request per key, signed on the card and verified (csr.h), written to --out;
//   6. the enrolment recorded in the inventory, state awaiting-certificate.
// A failure or Ctrl-C in steps 4-6 deletes the generated keys and the written requests and
// says so; the inventory is written in one transaction at the very end.

#include <unistd.h>

#include <cctype>
#include <ctime>
#include <filesystem>
#include <optional>

#include "cli/admin/atomic_file.h"
#include "cli/admin/card_keys.h"
#include "cli/admin/csr.h"
#include "cli/admin/distinguished_name.h"
#include "cli/admin/failure.h"
#include "cli/admin/interrupt.h"
#include "cli/admin/inventory.h"
#include "cli/admin/key_checks.h"
#include "cli/admin/key_plan.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/options.h"
#include "cli/admin/pins.h"
#include "cli/admin/progress.h"
#include "cli/admin/registration.h"
#include "cli/admin/token_init.h"
#include "cli/admin/token_select.h"
#include "cli/command_output.h"
#include "pkcs11/names.h"
#include "pkcs11/uri.h"

namespace attache::cli::admin {
namespace {

namespace fs = std::filesystem;

struct EnrolOptions {
    std::string module;
    std::string token;
    std::string holder;
    std::string subject;
    std::string email;
    std::string key_type = "ec-p256";
    std::string encryption_key_type;
    bool init = false;
    std::string label;
    bool force = false;
    bool so_pin_count_low_ok = false;
    std::string out_dir = ".";
    std::string inventory;
    std::string pin_source;
    std::string so_pin_source;
    std::string new_pin_source;
    bool json = false;
};

// A generated key, ready for its request and the inventory.
struct NewKey {
    PlannedKey plan;
    p11::KeyPairHandles handles;
    p11::Pkey public_key;
    std::string spki_sha256;
    std::string csr_path;
};

std::string file_slug(const std::string& text) {
    std::string slug;
    for (unsigned char c : text) {
        if (std::isalnum(c))
            slug += static_cast<char>(std::tolower(c));
        else if (!slug.empty() && slug.back() != '-')
            slug += '-';
    }
    while (!slug.empty() && slug.back() == '-')
        slug.pop_back();
    return slug.empty() ? "holder" : slug;
}

void check_holder(const std::string& holder) {
    if (holder.empty() || holder.size() > 128)
        fail(kUsage, "--holder must have 1 to 128 characters");
    for (unsigned char c : holder) {
        if (c < 0x20 || c == 0x7f)
            fail(kUsage, "--holder contains a control character");
    }
}

std::string absolute_path(const fs::path& p) {
    std::error_code ec;
    fs::path a = fs::absolute(p, ec);
    return (ec ? p : a.lexically_normal()).string();
}

void refuse_open_enrolment(const std::string& inventory_path, const SelectedToken& token) {
    std::error_code ec;
    if (token.info.serial.empty() || !fs::exists(inventory_path, ec))
        return;
    Inventory inventory = check(Inventory::open(inventory_path, true), {}, kInventory);
    auto open = check(inventory.open_enrolment(token.info.serial), {}, kInventory);
    if (open) {
        fail(kInventory, "card serial " + token.info.serial + " already has an open enrolment " +
                             "in " + inventory_path + " (record " + std::to_string(open->id) +
                             ", holder " + open->holder + ", state " +
                             std::string(state_name(open->state)) +
                             "); retire it first (`attache retire`); nothing was changed");
    }
}

void check_mechanisms(const SelectedToken& token, const std::vector<PlannedKey>& plan) {
    std::vector<std::string> problems;
    for (const PlannedKey& key : plan) {
        for (std::string& p : unmet_needs(token.module, token.slot, mechanism_needs(key)))
            problems.push_back(std::move(p));
    }
    if (problems.empty())
        return;
    auto supported = enrollable_key_types(token.module, token.slot);
    fail(kRefusedByToken, "token " + token.describe() +
                              " does not support this key type: " + join(problems) +
                              ". Nothing was changed. Key types this token can enrol: " +
                              (supported.empty() ? std::string("none") : join(supported, ", ")));
}

nlohmann::json key_json(const NewKey& k, const SelectedToken& token) {
    return {{"role", role_name(k.plan.role)},
            {"label", k.plan.label},
            {"key_id", hex(k.handles.id)},
            {"key_type", p11::key_algorithm_name(k.plan.algorithm)},
            {"spki_sha256", k.spki_sha256},
            {"csr", k.csr_path},
            {"uri", p11::Uri::for_object(token.info, CKO_PRIVATE_KEY, k.handles.id, k.plan.label)}};
}

Report enrol(const EnrolOptions& o) {
    // 1. Inputs. Nothing below this block is reached with a bad argument.
    check_holder(o.holder);
    auto key_type = p11::key_algorithm_from_name(o.key_type);
    if (!key_type)
        fail(kUsage, "unsupported key type '" + o.key_type +
                         "' (expected ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519)");
    std::optional<p11::KeyAlgorithm> encryption_type;
    if (!o.encryption_key_type.empty()) {
        encryption_type = p11::key_algorithm_from_name(o.encryption_key_type);
        if (!encryption_type)
            fail(kUsage, "unsupported encryption key type '" + o.encryption_key_type + "'");
    }
    std::vector<PlannedKey> plan =
        check(plan_keys(o.holder, *key_type, encryption_type), {}, kUsage);
    X509NamePtr subject = check(parse_distinguished_name(o.subject), {}, kUsage);
    std::optional<std::string> email;
    if (!o.email.empty()) {
        if (!plausible_email(o.email))
            fail(kUsage, "--email '" + o.email + "' is not an e-mail address");
        email = o.email;
    }
    std::error_code ec;
    if (!fs::is_directory(o.out_dir, ec) || access(o.out_dir.c_str(), W_OK | X_OK) != 0)
        fail(kUsage, "--out " + o.out_dir + " is not a writable directory");
    check(Inventory::check_usable(o.inventory), {}, kInventory);

    // 2. The token.
    SelectedToken token = select_token(o.module, o.token);
    if (!o.init && !token.info.initialized())
        fail(kUsage, "token " + token.describe() + " is not initialised; add --init --label LABEL");
    refuse_open_enrolment(o.inventory, token);
    check_mechanisms(token, plan);

    // Secrets first: Ctrl-C at a prompt simply ends the command, nothing having changed.
    InitRequest request{o.label, o.force, o.so_pin_count_low_ok, o.so_pin_source, o.new_pin_source};
    std::optional<InitPins> init_pins;
    std::optional<PreparedLogin> user_login;
    if (o.init)
        init_pins = prepare_initialisation(token, request);
    else
        user_login = prepare_login(token, o.pin_source, PinRole::user);

    // From here on, Ctrl-C is deferred to the next point where the card is consistent.
    InterruptGuard interrupt;
    bool initialised = false;
    if (o.init) {
        if (interrupt.requested())
            fail(kCancelled, "interrupted before the token was changed; nothing was changed");
        initialise_token(token, request, *init_pins);
        initialised = true;
        // A blank token may only now have a serial number.
        refuse_open_enrolment(o.inventory, token);
    }
    const std::string card_state_prefix =
        initialised
            ? "The card was initialised as '" + token.info.label + "' and its user PIN set. "
            : std::string();

    // Request file names, known now that the serial is.
    const std::string base = file_slug(o.holder) + "-" + file_slug(token.info.serial);
    std::vector<std::string> csr_paths;
    for (const PlannedKey& key : plan) {
        fs::path p = fs::path(o.out_dir) / (base + "-" + std::string(role_name(key.role)) + ".csr");
        if (fs::exists(fs::symlink_status(p, ec)))
            fail(kUsage, card_state_prefix + "refusing to replace " + p.string() +
                             "; choose another --out");
        csr_paths.push_back(absolute_path(p));
    }

    // 3. Log in.
    auto session =
        check(token.module.open_session(token.slot, true), card_state_prefix + "opening a session");
    if (init_pins) {
        if (Status s = session.login(CKU_USER, &init_pins->user_pin); !s)
            pin_failure(s.error(), token, PinRole::user);
        init_pins.reset();  // wipes both PINs
    } else {
        login(session, token, *user_login);
        user_login.reset();
        p11::AttributeTemplate private_keys;
        private_keys.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
        auto existing = check(session.find(private_keys), "listing the card's keys");
        if (!existing.empty()) {
            fail(kUsage, "token " + token.describe() + " already holds " +
                             std::to_string(existing.size()) +
                             " private key(s); Attache enrols empty cards. Retire the card, or "
                             "wipe it with --init --label LABEL --force. Nothing was changed");
        }
    }

    GeneratedKeys generated(session);
    WrittenFiles written;
    std::vector<NewKey> keys;
    // From here on, every failure and every interruption undoes the generation.
    auto stop = [&](int code, const std::string& message) {
        std::string undone = generated.undo();
        written.undo();
        std::string state = card_state_prefix;
        state += undone.empty() ? "No key was left on the card" : undone;
        state += "; the inventory was not changed.";
        fail(code, message + ". " + state);
    };
    auto checkpoint = [&] {
        if (interrupt.requested())
            stop(kCancelled, "interrupted");
    };

    try {
        checkpoint();
        // 4. Generate and check.
        for (size_t i = 0; i < plan.size(); ++i) {
            const PlannedKey& key = plan[i];
            p11::KeyPairSpec spec;
            spec.algorithm = key.algorithm;
            spec.usage = key.usage;
            spec.label = key.label;
            Progress progress("Generating the " + std::string(role_name(key.role)) + " key (" +
                              std::string(p11::key_algorithm_name(key.algorithm)) +
                              ") on the card");
            auto handles = p11::generate_key_pair(session, spec);
            progress.finish(handles.has_value());
            if (!handles) {
                std::string message = "generating the " + std::string(role_name(key.role)) +
                                      " key failed: " + handles.error().message();
                if (handles.error().is(CKR_DEVICE_MEMORY))
                    message += " (the card is full)";
                stop(exit_code_for(handles.error()), message);
            }
            generated.add(*handles, key.label);
            checkpoint();

            auto values = read_private_key_checks(session, handles->private_key);
            if (!values)
                stop(kFailure,
                     "reading back the " + key.label + " key: " + values.error().message());
            auto problems = provenance_problems(*values);
            auto usage = usage_problems(*values, key.usage);
            problems.insert(problems.end(), usage.begin(), usage.end());
            if (!problems.empty()) {
                stop(kRefusedByToken, "the card did not generate the " + key.label +
                                          " key as required: " + join(problems));
            }
            auto pub = read_public_key(session, handles->public_key);
            if (!pub)
                stop(kFailure,
                     "reading the " + key.label + " public key: " + pub.error().message());
            auto spki = p11::spki_der(pub->get());
            if (!spki)
                stop(kFailure, spki.error().message());
            for (const NewKey& other : keys) {
                if (other.handles.id == handles->id)
                    stop(kFailure, "both keys got the same CKA_ID " + hex(handles->id));
            }
            keys.push_back({key, *handles, std::move(*pub), sha256_hex(*spki), csr_paths[i]});
        }

        // 5. Requests, signed on the card.
        for (NewKey& k : keys) {
            CsrContent content{subject.get(), email, k.plan.role};
            auto pem = make_signed_csr(session, k.handles.private_key, k.public_key.get(), content,
                                       k.plan.label);
            if (!pem)
                stop(exit_code_for(pem.error()), pem.error().message());
            if (Status s = write_new_file(k.csr_path, *pem, 0644); !s)
                stop(kFailure, s.error().message());
            written.add(k.csr_path);
            checkpoint();
        }

        // 6. The inventory, in one transaction.
        Enrolment record;
        record.token_serial = token.info.serial;
        record.token_model = token.info.model;
        record.token_manufacturer = token.info.manufacturer;
        record.token_label = token.info.label;
        record.holder = o.holder;
        record.subject = name_string(subject.get());
        record.email = email;
        for (const NewKey& k : keys) {
            record.keys.push_back({std::string(role_name(k.plan.role)), hex(k.handles.id),
                                   k.plan.label,
                                   std::string(p11::key_algorithm_name(k.plan.algorithm)),
                                   k.spki_sha256, k.csr_path, std::nullopt, std::nullopt});
        }
        checkpoint();
        auto inventory = Inventory::open_or_create(o.inventory);
        if (!inventory)
            stop(kInventory, inventory.error().message());
        auto id =
            inventory->add_enrolment(record, Operator::current(), time_string(std::time(nullptr)));
        if (!id)
            stop(kInventory, "recording the enrolment: " + id.error().message());
        generated.commit();
        written.commit();

        Report report;
        report.json = {{"record", *id},
                       {"state", state_name(CardState::awaiting_certificate)},
                       {"inventory", absolute_path(o.inventory)},
                       {"initialised", initialised},
                       {"holder", o.holder},
                       {"subject", record.subject},
                       {"email", email ? nlohmann::json(*email) : nlohmann::json()},
                       {"token",
                        {{"uri", p11::Uri::for_token(token.info)},
                         {"label", token.info.label},
                         {"serial", token.info.serial},
                         {"model", token.info.model}}},
                       {"keys", nlohmann::json::array()}};
        std::string text = "Enrolled " + o.holder + " on token " + token.describe() +
                           " (inventory record " + std::to_string(*id) +
                           ", state awaiting-certificate).\n";
        for (const NewKey& k : keys) {
            report.json["keys"].push_back(key_json(k, token));
            text += "  " + std::string(role_name(k.plan.role)) + " key '" + k.plan.label + "' " +
                    std::string(p11::key_algorithm_name(k.plan.algorithm)) + ", CKA_ID " +
                    hex(k.handles.id) + "\n    SPKI SHA-256 " + k.spki_sha256 + "\n    request " +
                    k.csr_path + "\n";
        }
        text +=
            "Send the requests to the CA, then store the certificates with "
            "`attache cert import`.";
        report.text = text;
        return report;
    } catch (const CommandFailure&) {
        throw;  // stop() has already undone what this run did
    } catch (const std::exception& e) {
        stop(kFailure, std::string("internal error: ") + e.what());
        throw;
    }
}

}  // namespace

void add_enrol_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<EnrolOptions>();
    CLI::App* cmd = app.add_subcommand(
        "enrol",
        "Generate a holder's authentication and encryption keys on a card, write a certificate "
        "request for each, and record the enrolment in the inventory");
    add_module_option(*cmd, o->module);
    add_token_option(*cmd, o->token, true);
    cmd->add_option("--holder", o->holder, "the card holder's name (key labels, inventory)")
        ->required();
    cmd->add_option("--subject", o->subject,
                    "subject DN of the requests: 'CN=Name,O=Org,C=FR' or '/C=FR/O=Org/CN=Name'")
        ->required();
    cmd->add_option("--email", o->email, "e-mail address for the requests' subjectAltName");
    // Values are checked by enrol() itself, so that a bad one exits with kUsage.
    cmd->add_option("--key-type", o->key_type,
                    "ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519")
        ->capture_default_str();
    cmd->add_option("--encryption-key-type", o->encryption_key_type,
                    "type of the encryption key (default: --key-type; ec-p256 with ed25519)");
    auto* init = cmd->add_flag("--init", o->init,
                               "initialise the token first (C_InitToken, erasing it, then "
                               "C_InitPIN); needs --label, the SO PIN and the new user PIN");
    auto* label = cmd->add_option("--label", o->label, "token label for --init");
    init->needs(label);
    label->needs(init);
    cmd->add_flag("--force", o->force, "with --init: erase a token that holds objects")
        ->needs(init);
    cmd->add_flag("--so-pin-count-low-ok", o->so_pin_count_low_ok,
                  "with --init: try the SO PIN although the token reports a low retry count")
        ->needs(init);
    cmd->add_option("--out", o->out_dir, "directory for the certificate requests")
        ->capture_default_str();
    add_inventory_option(*cmd, o->inventory);
    add_secret_source_option(*cmd, "--pin-source", o->pin_source, "user PIN");
    add_secret_source_option(*cmd, "--so-pin-source", o->so_pin_source, "SO PIN (with --init)");
    add_secret_source_option(*cmd, "--new-pin-source", o->new_pin_source,
                             "user PIN to set (with --init)");
    add_output_flags(*cmd, o->json);
    cmd->callback([o, &exit_code] { run_command(o->json, exit_code, [o] { return enrol(*o); }); });
}

}  // namespace attache::cli::admin
