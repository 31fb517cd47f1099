#pragma once

// `enrol --init`: C_InitToken with the SO PIN (which erases the token), C_InitPIN for the user
// PIN, and, with --new-so-pin-source, C_SetPIN for a new SO PIN. Everything that can be refused
// is checked first, so a refusal changes nothing:
//   - inspect_card() says what the card holds as far as Attache can see without a PIN (objects,
//     an initialised token with a label); erasing such a card needs the operator to type its
//     serial (confirm.h), which enrol asks for after every other check;
//   - the SO PIN is not tried when the token reports a low SO PIN retry count;
//   - every PIN is read and every new PIN's length checked before the token is touched.

#include <optional>
#include <string>

#include "cli/admin/card_history.h"
#include "cli/admin/token_select.h"
#include "pkcs11/secret.h"

namespace attache::cli::admin {

// What --init would erase, seen without a PIN: public objects, and the token's own state.
// Private objects (private keys) are invisible without the PIN; a token that has been
// initialised with a label is treated as holding something for that reason.
struct CardContents {
    bool initialised = false;
    std::string label;
    size_t objects = 0;
    size_t keys = 0;
    size_t certificates = 0;

    bool holds_anything() const;
    // "3 object(s) (2 key(s), 1 certificate(s)) and the token 'card'" for messages.
    std::string describe() const;
};

CardContents inspect_card(const SelectedToken& token);

struct InitRequest {
    std::string label;
    bool so_pin_count_low_ok = false;
    std::string so_pin_source;
    std::string new_pin_source;
    std::string new_so_pin_source;  // empty: keep the SO PIN
};

// The checks that need no secret: the label, the SO PIN's retry flags. Changes nothing.
void check_initialisation(SelectedToken& token, const InitRequest& request);

// Secrets read and checked, ready for initialise_token().
struct InitPins {
    Secret so_pin;                     // given to C_InitToken
    Secret user_pin;                   // set with C_InitPIN
    std::optional<Secret> new_so_pin;  // set with C_SetPIN afterwards
};

// Reads the PINs; changes nothing. A blank token has no SO PIN yet: the one given (from
// --new-so-pin-source when set, else --so-pin-source) becomes its SO PIN, read as a new PIN.
InitPins read_init_pins(SelectedToken& token, const InitRequest& request);

// C_InitToken, C_InitPIN as the SO, then C_SetPIN for the new SO PIN. A rejected SO PIN is
// recorded in `history`. A failure after C_InitToken says what state the card is in.
void initialise_token(SelectedToken& token, const InitRequest& request, const InitPins& pins,
                      const CardHistory& history);

}  // namespace attache::cli::admin
