// attache enrol: prepares a holder's card. In order, and changing nothing until every check
// has passed:
//   1. the plan (enrol_plan.h): arguments, token, mechanisms, inventory, output directory and
//      request names, all checked; --dry-run prints it and stops;
//   2. --init on a card that holds anything: the operator types the card's serial (or gave
//      --confirm SERIAL);
//   3. the PINs read (nothing has changed if Ctrl-C ends a prompt);
//   4. --init: C_InitToken + C_InitPIN (+ C_SetPIN for a new SO PIN) (token_init.h); otherwise
//      one C_Login as the user;
//   5. two key pairs generated on the card (key_plan.h), their attributes read back
//      (key_checks.h); a wrong attribute deletes them and stops;
//   6. one PKCS#10 request per key, signed on the card and verified (csr.h), written to --out;
//   7. the enrolment recorded in the inventory, state awaiting-certificate.
// A failure or Ctrl-C in steps 5-7 deletes the generated keys and the written requests and
// says so; the inventory is written in one transaction at the very end.

#include <unistd.h>

#include <cctype>
#include <ctime>
#include <filesystem>
#include <optional>

#include "cli/admin/atomic_file.h"
#include "cli/admin/card_history.h"
#include "cli/admin/card_keys.h"
#include "cli/admin/confirm.h"
#include "cli/admin/csr.h"
#include "cli/admin/enrol_plan.h"
#include "cli/admin/enrol_steps.h"
#include "cli/admin/failure.h"
#include "cli/admin/interrupt.h"
#include "cli/admin/inventory.h"
#include "cli/admin/key_checks.h"
#include "cli/admin/key_plan.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/options.h"
#include "cli/admin/pins.h"
#include "cli/admin/piv_enrol.h"
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

Report enrol(const EnrolOptions& o) {
    // 1. The plan. Nothing below this line is reached with a check failed.
    EnrolPlan plan = make_plan(o);
    if (o.dry_run)
        return plan_report(o, plan);
    if (plan.card.path == EnrolmentPath::piv)
        return enrol_piv(o, plan);
    SelectedToken& token = plan.token;
    const std::vector<PlannedKey>& keys_to_make = plan.keys;

    // 2. The operator's go-ahead to erase a card that holds something.
    if (plan.needs_confirmation || (plan.erase && !o.confirm.empty())) {
        confirm_serial("--init erases " + plan.erase->describe() + " on card serial " +
                           token.info.serial + " for good",
                       token.info.serial, o.confirm);
    }

    // 3. Secrets: Ctrl-C at a prompt simply ends the command, nothing having changed.
    const InitRequest request = o.init_request();
    std::optional<InitPins> init_pins;
    std::optional<PreparedLogin> user_login;
    std::optional<CardHistory> history;
    if (o.init) {
        history.emplace(o.inventory, token.info.serial);
        init_pins = read_init_pins(token, request);
    } else {
        user_login = prepare_login(token, o.pin_source, PinRole::user);
    }

    // From here on, Ctrl-C is deferred to the next point where the card is consistent.
    InterruptGuard interrupt;
    bool initialised = false;
    std::vector<std::string> csr_paths = plan.request_paths;
    if (o.init) {
        if (interrupt.requested())
            fail(kCancelled, "interrupted before the token was changed; nothing was changed");
        const std::string serial_before = token.info.serial;
        initialise_token(token, request, *init_pins, *history);
        initialised = true;
        if (token.info.serial != serial_before) {
            // A blank token may only now have a serial number.
            const std::string prefix =
                "The card was initialised as '" + token.info.label + "' and its user PIN set, but ";
            refuse_open_enrolment(o.inventory, token, prefix);
            csr_paths = request_paths(o, keys_to_make, token.info.serial, prefix);
        }
    }
    const std::string card_state_prefix =
        initialised
            ? "The card was initialised as '" + token.info.label + "' and its user PIN set. "
            : std::string();

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
    std::vector<EnrolledKey> keys;
    std::vector<CK_OBJECT_HANDLE> private_keys;  // one per key
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
        for (size_t i = 0; i < keys_to_make.size(); ++i) {
            const PlannedKey& key = keys_to_make[i];
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
            for (const EnrolledKey& other : keys) {
                if (other.id == handles->id)
                    stop(kFailure, "both keys got the same CKA_ID " + hex(handles->id));
            }
            private_keys.push_back(handles->private_key);
            keys.push_back(
                {key, handles->id, std::move(*pub), sha256_hex(*spki), csr_paths[i], std::nullopt});
        }

        // 5. Requests, signed on the card.
        auto signer = [&](const EnrolledKey& k) -> CardSigner {
            const CK_OBJECT_HANDLE private_key =
                private_keys[static_cast<size_t>(&k - keys.data())];
            return [&session, private_key, label = k.plan.label](
                       const CardSignatureAlgorithm& algorithm, std::span<const uint8_t> message) {
                return sign_on_card(session, private_key, algorithm, message, label);
            };
        };
        write_requests(keys, plan, signer, written, stop, checkpoint);

        // 6. The inventory, in one transaction.
        std::string enrolled = "enrolled";
        if (initialised)
            enrolled += std::string(" on a card initialised as '") + token.info.label + "'" +
                        (o.new_so_pin_source.empty() ? "" : " with a new SO PIN");
        checkpoint();
        return record_enrolment(o, plan, keys, enrolled, initialised, stop, [&] {
            generated.commit();
            written.commit();
        });
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
                               "C_InitPIN); needs --label, the SO PIN and the new user PIN. A card "
                               "that holds anything is erased only once its serial is typed or "
                               "given with --confirm");
    auto* label = cmd->add_option("--label", o->label, "token label for --init");
    init->needs(label);
    label->needs(init);
    cmd->add_option("--confirm", o->confirm,
                    "with --init: the card's serial number, given in advance (for scripts); "
                    "without it, erasing a card that holds anything asks on the terminal")
        ->needs(init);
    cmd->add_flag("--dry-run", o->dry_run,
                  "check everything and print what would be erased, generated, written and "
                  "recorded; change nothing and read no PIN");
    cmd->add_flag("--so-pin-count-low-ok", o->so_pin_count_low_ok,
                  "with --init: try the SO PIN although the token reports a low retry count")
        ->needs(init);
    cmd->add_option("--out", o->out_dir, "directory for the certificate requests")
        ->capture_default_str();
    add_inventory_option(*cmd, o->inventory);
    add_secret_source_option(*cmd, "--pin-source", o->pin_source, "user PIN");
    add_secret_source_option(*cmd, "--so-pin-source", o->so_pin_source, "SO PIN (with --init)");
    add_optional_secret_source_option(
        *cmd, "--management-key-source", o->management_key_source,
        "PIV cards: the card's management key, hex digits (read for this command only, never "
        "stored or printed)");
    cmd->add_option("--management-key-alg", o->management_key_alg,
                    "PIV cards: 3des, aes128, aes192 or aes256 (default: from the key's length; "
                    "24 bytes are tried as 3DES, then AES-192)");
    add_secret_source_option(*cmd, "--new-pin-source", o->new_pin_source,
                             "user PIN to set (with --init)");
    add_optional_secret_source_option(*cmd, "--new-so-pin-source", o->new_so_pin_source,
                                      "card's new SO PIN (set after --init with C_SetPIN; "
                                      "never printed or recorded; default: the SO PIN stays)")
        ->needs(init);
    add_output_flags(*cmd, o->json);
    cmd->callback([o, &exit_code] { run_command(o->json, exit_code, [o] { return enrol(*o); }); });
}

}  // namespace attache::cli::admin
