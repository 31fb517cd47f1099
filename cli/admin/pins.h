#pragma once

// PINs for the admin commands: read from a secret source (never argv), checked against the
// token's PIN length limits and retry flags before the token sees them, and presented to the
// token exactly once. A rejected PIN is reported with its CK_RV and the retry flags the token
// shows afterwards, never with the PIN.

#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>

#include "cli/admin/token_select.h"
#include "pkcs11/secret.h"
#include "pkcs11/session.h"

namespace attache::cli::admin {

enum class PinRole { user, so };

// Reads a PIN that the token will check (current user or SO PIN).
Secret read_pin(const std::string& source, const SelectedToken& token, PinRole role);

// Reads a PIN that will be set: asked twice when prompted, and refused (kUsage) when outside
// the token's ulMinPinLen..ulMaxPinLen.
Secret read_new_pin(const std::string& source, const SelectedToken& token, PinRole role);

// Refuses (before any try) a PIN the token reports as locked (kPinBlocked) or as being on its
// last tries (kFinalTry): the user PIN on its final try; the SO PIN on its final try, or on a
// low count (CKF_SO_PIN_COUNT_LOW: a wrong SO PIN was entered since the last good one) unless
// the operator said so (`so_count_low_ok`, from --so-pin-count-low-ok). A locked SO PIN makes a
// card unmanageable for good, so Attache is more careful with it than the token is.
void require_pin_triable(const p11::TokenInfo& info, PinRole role, bool so_count_low_ok = false);

// Refuses a PIN outside the token's length limits (kUsage).
void require_pin_length(const Secret& pin, const p11::TokenInfo& info, PinRole role);

// A login made ready: the flags checked and the PIN read (or, with the "prompt" source on a
// token with a PIN pad, to be entered on the reader).
struct PreparedLogin {
    PinRole role = PinRole::user;
    std::optional<Secret> pin;  // nullopt: the PIN pad
};
PreparedLogin prepare_login(SelectedToken& token, const std::string& source, PinRole role);
// One C_Login. On failure, a CommandFailure naming the CK_RV and the retry flags.
void login(p11::Session& session, SelectedToken& token, const PreparedLogin& prepared);
// Both at once.
void login(p11::Session& session, SelectedToken& token, const std::string& source, PinRole role);

// Throws the CommandFailure for a failed PIN operation (C_Login, C_SetPIN, C_InitToken).
[[noreturn]] void pin_failure(const Error& error, SelectedToken& token, PinRole role);

std::string pin_name(PinRole role);  // "user PIN", "SO PIN"

}  // namespace attache::cli::admin
