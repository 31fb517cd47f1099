#include "cli/admin/pins.h"

#include <openssl/crypto.h>

#include "cli/admin/failure.h"
#include "cli/command_output.h"
#include "cli/secret_source.h"
#include "pkcs11/names.h"

namespace attache::cli::admin {
namespace {

bool same(const Secret& a, const Secret& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Secret read_from(const std::string& source, const std::string& prompt, const std::string& what) {
    auto secret = read_secret(source, prompt);
    if (!secret)
        fail(kFailure, "reading the " + what + ": " + secret.error().message());
    return std::move(*secret);
}

}  // namespace

std::string pin_name(PinRole role) {
    return role == PinRole::so ? "SO PIN" : "user PIN";
}

void require_pin_triable(const p11::TokenInfo& info, PinRole role, bool so_count_low_ok) {
    if (role == PinRole::user) {
        if (info.user_pin_locked())
            fail(kPinBlocked, "the user PIN of " + info.label +
                                  " is blocked; unblock it with `attache pin unblock`");
        if (info.user_pin_final_try())
            fail(kFinalTry, "the user PIN of " + info.label +
                                " has one try left; Attache will not spend it. Unblock or reset "
                                "it with `attache pin unblock` first");
        return;
    }
    if (info.so_pin_locked())
        fail(kPinBlocked, "the SO PIN of " + info.label +
                              " is blocked; the card cannot be administered any more");
    if (info.so_pin_final_try())
        fail(kFinalTry, "the SO PIN of " + info.label +
                            " has one try left (so-pin-final-try); Attache will not spend it: a "
                            "locked SO PIN leaves the card unmanageable for good");
    if (info.so_pin_count_low() && !so_count_low_ok)
        fail(kFinalTry, "the token reports a low SO PIN retry count (" +
                            p11::pin_flag_names(info.flags) +
                            "): a wrong SO PIN was entered since the last good one. Attache does "
                            "not try the SO PIN on it; once you are sure of the SO PIN, run the "
                            "command again with --so-pin-count-low-ok. Nothing was changed");
}

void require_pin_length(const Secret& pin, const p11::TokenInfo& info, PinRole role) {
    // Some tokens report 0 or CK_UNAVAILABLE_INFORMATION for "no limit".
    const CK_ULONG min = info.min_pin_len;
    const CK_ULONG max = info.max_pin_len;
    const bool max_known = max != 0 && max != CK_UNAVAILABLE_INFORMATION;
    if (pin.size() < min || (max_known && pin.size() > max)) {
        fail(kUsage, "the new " + pin_name(role) + " has " + std::to_string(pin.size()) +
                         " characters; the token accepts " + std::to_string(min) + " to " +
                         (max_known ? std::to_string(max) : std::string("any number of")) +
                         " (nothing was sent to the token)");
    }
}

Secret read_pin(const std::string& source, const SelectedToken& token, PinRole role) {
    return read_from(source, pin_name(role) + " for " + token.info.label + ": ", pin_name(role));
}

Secret read_new_pin(const std::string& source, const SelectedToken& token, PinRole role) {
    const std::string what = "new " + pin_name(role);
    Secret pin = read_from(source, what + " for " + token.info.label + ": ", what);
    require_pin_length(pin, token.info, role);
    if (source == "prompt") {
        Secret again = read_from(source, "Repeat the " + what + ": ", what);
        if (!same(pin, again))
            fail(kCancelled, "the two entries of the " + what + " differ; nothing was changed");
    }
    return pin;
}

void pin_failure(const Error& error, SelectedToken& token, PinRole role) {
    if (!error.is(CKR_PIN_INCORRECT) && !error.is(CKR_PIN_LOCKED))
        fail(error);
    std::string flags;
    if (auto info = token.module.token_info(token.slot))
        flags = p11::pin_flag_names(info->flags);
    throw CommandFailure(exit_code_for(error),
                         "the " + pin_name(role) + " was not accepted by " + token.describe() +
                             (error.is(CKR_PIN_LOCKED) ? " (it is blocked)" : "") +
                             "; Attache never retries a PIN. The card now reports: " +
                             (flags.empty() ? std::string("no PIN retry flags") : flags) +
                             ". Nothing was changed",
                         error.message());
}

PreparedLogin prepare_login(SelectedToken& token, const std::string& source, PinRole role) {
    token.refresh();
    require_pin_triable(token.info, role);
    PreparedLogin prepared;
    prepared.role = role;
    if (source != "prompt" || !token.info.protected_authentication_path())
        prepared.pin = read_pin(source, token, role);
    return prepared;
}

void login(p11::Session& session, SelectedToken& token, const PreparedLogin& prepared) {
    const CK_USER_TYPE user = prepared.role == PinRole::so ? CKU_SO : CKU_USER;
    if (!prepared.pin)
        note("Enter the " + pin_name(prepared.role) + " on the reader's PIN pad.");
    Status status = session.login(user, prepared.pin ? &*prepared.pin : nullptr);
    if (!status)
        pin_failure(status.error(), token, prepared.role);
}

void login(p11::Session& session, SelectedToken& token, const std::string& source, PinRole role) {
    login(session, token, prepare_login(token, source, role));
}

}  // namespace attache::cli::admin
