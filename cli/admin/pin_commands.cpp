// attache pin status|change|unblock|change-so. PIN lengths are checked against the token's
// ulMinPinLen..ulMaxPinLen before the token is called; a PIN the token reports as locked or on
// its last try is not tried; each PIN is presented once. The commands that change a PIN check
// first that the inventory can record it, and record what they did (card_history.h): a changed
// or reset user PIN, a changed SO PIN, a rejected SO PIN.

#include <functional>

#include "cli/admin/card_history.h"
#include "cli/admin/failure.h"
#include "cli/admin/options.h"
#include "cli/admin/pins.h"
#include "cli/admin/registration.h"
#include "cli/admin/token_select.h"
#include "cli/command_output.h"
#include "pkcs11/uri.h"

namespace attache::cli::admin {
namespace {

struct PinOptions {
    std::string module;
    std::string token;
    std::string pin_source;
    std::string so_pin_source;
    std::string new_pin_source;
    std::string new_so_pin_source;
    std::string inventory;
    std::string reason;
    bool so_pin_count_low_ok = false;
    bool json = false;
};

constexpr const char* kNotRecorded = "; nothing was changed or recorded";

nlohmann::json status_json(const SelectedToken& token) {
    const p11::TokenInfo& t = token.info;
    return {{"token", token.uri},
            {"label", t.label},
            {"serial", t.serial},
            {"user_pin_initialized", (t.flags & CKF_USER_PIN_INITIALIZED) != 0},
            {"user_pin_count_low", t.user_pin_count_low()},
            {"user_pin_final_try", t.user_pin_final_try()},
            {"user_pin_locked", t.user_pin_locked()},
            {"user_pin_to_be_changed", (t.flags & CKF_USER_PIN_TO_BE_CHANGED) != 0},
            {"so_pin_count_low", t.so_pin_count_low()},
            {"so_pin_final_try", t.so_pin_final_try()},
            {"so_pin_locked", t.so_pin_locked()},
            {"so_pin_to_be_changed", (t.flags & CKF_SO_PIN_TO_BE_CHANGED) != 0},
            {"protected_authentication_path", t.protected_authentication_path()},
            {"pin_flags", p11::pin_flag_names(t.flags)},
            {"min_pin_length", t.min_pin_len},
            {"max_pin_length", t.max_pin_len}};
}

std::string status_text(const SelectedToken& token) {
    const p11::TokenInfo& t = token.info;
    auto yes = [](bool b) { return b ? "yes" : "no"; };
    const std::string flags = p11::pin_flag_names(t.flags);
    return "Token " + token.describe() + "\n  " + token.uri +
           "\n  user PIN set: " + yes(t.flags & CKF_USER_PIN_INITIALIZED) +
           ", count low: " + yes(t.user_pin_count_low()) +
           ", final try: " + yes(t.user_pin_final_try()) + ", locked: " + yes(t.user_pin_locked()) +
           "\n  SO PIN count low: " + yes(t.so_pin_count_low()) +
           ", final try: " + yes(t.so_pin_final_try()) + ", locked: " + yes(t.so_pin_locked()) +
           "\n  PIN pad: " + yes(t.protected_authentication_path()) + "\n  PIN length " +
           std::to_string(t.min_pin_len) + " to " + std::to_string(t.max_pin_len) +
           "\n  PIN flags: " + (flags.empty() ? std::string("none") : flags) + "\n";
}

Report pin_status(const PinOptions& o) {
    SelectedToken token = select_token(o.module, o.token);
    return Report{status_json(token), status_text(token)};
}

// Records what was done and reports it with the token's new flags.
Report done_and_recorded(SelectedToken& token, const CardHistory& history, const std::string& event,
                         const std::string& reason, const std::string& done, const char* changed) {
    token.refresh();
    history.record_done(event, reason, done);
    Report report{status_json(token), done + ".\n"};
    report.json["changed"] = changed;
    return report;
}

// One C_Login as the SO (a rejected SO PIN is recorded), `operation` in that session, logout.
Status as_so(SelectedToken& token, const Secret& so_pin, const CardHistory& history,
             const std::string& during, const std::function<Status(p11::Session&)>& operation) {
    auto session = check(token.module.open_session(token.slot, true), "opening a session");
    if (Status s = session.login(CKU_SO, &so_pin); !s)
        history.so_pin_failure(s.error(), token, during);
    Status result = operation(session);
    (void)session.logout();
    return result;
}

Report pin_change(const PinOptions& o) {
    SelectedToken token = select_token(o.module, o.token);
    require_pin_triable(token.info, PinRole::user);
    CardHistory history(o.inventory, token.info.serial);
    Secret old_pin = read_pin(o.pin_source, token, PinRole::user);
    Secret new_pin = read_new_pin(o.new_pin_source, token, PinRole::user);
    // C_SetPIN in a session that is not logged in changes the user PIN: one try of the old PIN.
    auto session = check(token.module.open_session(token.slot, true), "opening a session");
    if (Status s = session.set_pin(old_pin, new_pin); !s)
        pin_failure(s.error(), token, PinRole::user);
    return done_and_recorded(token, history, "user-pin-changed",
                             o.reason.empty() ? "changed with `attache pin change`" : o.reason,
                             "The user PIN of " + token.describe() + " was changed", "user-pin");
}

// OpenSC's PIV driver reports its tokens with this manufacturer. A PIV card has no SO login
// (SP 800-73-4: the PUK is never VERIFYed, it only comes with RESET RETRY COUNTER), so OpenSC's
// C_Login(CKU_SO) fails; OpenSC unblocks with C_SetPIN(PUK, new PIN) in a session without a
// login, and only when its configuration allows it (user_pin_unblock_style).
constexpr const char* kOpenscPivManufacturer = "piv_II";

bool unblocks_with_set_pin(const p11::TokenInfo& info) {
    return info.manufacturer == kOpenscPivManufacturer;
}

Status unblock_with_puk(SelectedToken& token, const Secret& puk, const Secret& new_pin,
                        const CardHistory& history) {
    // Without that setting OpenSC 0.23 takes the same C_SetPIN as a PIN change and presents the
    // PUK as the user PIN: one try of a PIN that still has tries would be spent. Once the PIN is
    // blocked the card counts nothing more, so only then is the call safe to try.
    if (!token.info.user_pin_locked()) {
        fail(kFailure, "the user PIN of " + token.describe() +
                           " is not blocked: through OpenSC a PIV card's PIN is reset with the "
                           "PUK only once it is blocked; to change a known PIN use `attache pin "
                           "change`. The card was not changed");
    }
    auto session = check(token.module.open_session(token.slot, true), "opening a session");
    Status set = session.set_pin(puk, new_pin);
    if (!set && (set.error().is(CKR_FUNCTION_NOT_SUPPORTED) || set.error().is(CKR_PIN_LOCKED))) {
        fail(kFailure,
             "OpenSC unblocks a PIV card's PIN only when its configuration allows it: run this "
             "command (and only this one) with OPENSC_CONF naming a file that contains\n"
             "  app opensc-pkcs11 { pkcs11 { user_pin_unblock_style = "
             "set_pin_in_unlogged_session; } }\n"
             "(see docs/admin-guide.md); the card was not changed");
    }
    if (!set && set.error().is(CKR_PIN_INCORRECT))
        history.so_pin_failure(set.error(), token, "pin unblock");
    return set;
}

Report pin_unblock(const PinOptions& o) {
    if (o.reason.find_first_not_of(" \t") == std::string::npos)
        fail(kUsage, "--reason must say why the user PIN is reset" + std::string(kNotRecorded));
    SelectedToken token = select_token(o.module, o.token);
    require_pin_triable(token.info, PinRole::so, o.so_pin_count_low_ok);
    CardHistory history(o.inventory, token.info.serial);
    Secret so_pin = read_pin(o.so_pin_source, token, PinRole::so);
    Secret new_pin = read_new_pin(o.new_pin_source, token, PinRole::user);
    Status set = unblocks_with_set_pin(token.info)
                     ? unblock_with_puk(token, so_pin, new_pin, history)
                     : as_so(token, so_pin, history, "pin unblock",
                             [&](p11::Session& session) { return session.init_pin(new_pin); });
    if (!set)
        fail(set.error(), "setting the new user PIN (C_InitPIN)");
    return done_and_recorded(token, history, "user-pin-reset", o.reason,
                             "The user PIN of " + token.describe() + " was reset with the SO PIN",
                             "user-pin");
}

Report pin_change_so(const PinOptions& o) {
    SelectedToken token = select_token(o.module, o.token);
    require_pin_triable(token.info, PinRole::so, o.so_pin_count_low_ok);
    CardHistory history(o.inventory, token.info.serial);
    Secret old_pin = read_pin(o.so_pin_source, token, PinRole::so);
    Secret new_pin = read_new_pin(o.new_so_pin_source, token, PinRole::so);
    // C_SetPIN in an SO session changes the SO PIN. The old PIN is tried once, at C_Login.
    Status set = as_so(token, old_pin, history, "pin change-so",
                       [&](p11::Session& session) { return session.set_pin(old_pin, new_pin); });
    if (!set)
        fail(set.error(),
             "the SO PIN was accepted, but setting the new one (C_SetPIN) failed; "
             "the SO PIN is unchanged");
    return done_and_recorded(token, history, "so-pin-changed",
                             o.reason.empty() ? "changed with `attache pin change-so`" : o.reason,
                             "The SO PIN of " + token.describe() +
                                 " was changed. Keep the new SO PIN sealed with the card's records",
                             "so-pin");
}

CLI::App* pin_subcommand(CLI::App& pin, const char* name, const char* help,
                         std::shared_ptr<PinOptions>& o) {
    o = std::make_shared<PinOptions>();
    CLI::App* cmd = pin.add_subcommand(name, help);
    add_module_option(*cmd, o->module);
    add_token_option(*cmd, o->token, true);
    add_output_flags(*cmd, o->json);
    return cmd;
}

}  // namespace

void add_pin_commands(CLI::App& app, int& exit_code) {
    CLI::App* pin = app.add_subcommand("pin", "The token's PINs");
    pin->require_subcommand(1);

    std::shared_ptr<PinOptions> status, change, unblock, change_so;
    CLI::App* s = pin_subcommand(*pin, "status", "Show the PIN flags and length limits", status);
    s->callback([status, &exit_code] {
        run_command(status->json, exit_code, [status] { return pin_status(*status); });
    });

    // The commands that change a PIN record it in the inventory.
    auto recorded = [](CLI::App& cmd, PinOptions& o, bool reason_required) {
        add_inventory_option(cmd, o.inventory);
        auto* reason = cmd.add_option("--reason", o.reason,
                                      reason_required ? "why (required; kept in the card's history)"
                                                      : "why (kept in the card's history)");
        if (reason_required)
            reason->required();
    };

    CLI::App* c = pin_subcommand(*pin, "change",
                                 "Change the user PIN (the current PIN is read first, then the "
                                 "new one) and record it in the inventory",
                                 change);
    add_secret_source_option(*c, "--pin-source", change->pin_source, "current user PIN");
    add_secret_source_option(*c, "--new-pin-source", change->new_pin_source, "new user PIN");
    recorded(*c, *change, false);
    c->callback([change, &exit_code] {
        run_command(change->json, exit_code, [change] { return pin_change(*change); });
    });

    CLI::App* u = pin_subcommand(*pin, "unblock",
                                 "Reset a blocked or forgotten user PIN with the SO PIN "
                                 "(C_InitPIN; the SO PIN is read first, then the new PIN) and "
                                 "record it, and a rejected SO PIN, in the inventory",
                                 unblock);
    add_secret_source_option(*u, "--so-pin-source", unblock->so_pin_source, "SO PIN");
    add_secret_source_option(*u, "--new-pin-source", unblock->new_pin_source, "new user PIN");
    u->add_flag("--so-pin-count-low-ok", unblock->so_pin_count_low_ok,
                "try the SO PIN although the token reports a low retry count");
    recorded(*u, *unblock, true);
    u->callback([unblock, &exit_code] {
        run_command(unblock->json, exit_code, [unblock] { return pin_unblock(*unblock); });
    });

    CLI::App* so = pin_subcommand(*pin, "change-so",
                                  "Change the SO PIN (C_Login as the SO, then C_SetPIN; the "
                                  "current SO PIN is read first, then the new one) and record "
                                  "it, and a rejected SO PIN, in the inventory",
                                  change_so);
    add_secret_source_option(*so, "--so-pin-source", change_so->so_pin_source, "current SO PIN");
    add_secret_source_option(*so, "--new-so-pin-source", change_so->new_so_pin_source,
                             "new SO PIN");
    so->add_flag("--so-pin-count-low-ok", change_so->so_pin_count_low_ok,
                 "try the SO PIN although the token reports a low retry count");
    recorded(*so, *change_so, false);
    so->callback([change_so, &exit_code] {
        run_command(change_so->json, exit_code, [change_so] { return pin_change_so(*change_so); });
    });
}

}  // namespace attache::cli::admin
