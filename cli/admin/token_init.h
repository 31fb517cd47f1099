#pragma once

// `enrol --init`: C_InitToken with the SO PIN (which erases the token), then C_InitPIN for the
// user PIN. Everything that can be refused is checked first, so a refusal changes nothing:
//   - a token that holds objects is wiped only with --force (Attache counts the objects it
//     sees without a PIN: public keys, certificates, public data);
//   - the SO PIN is not tried when the token reports a low SO PIN retry count;
//   - both PINs are read and the new user PIN's length checked before the token is touched.

#include <string>

#include "cli/admin/token_select.h"
#include "pkcs11/secret.h"

namespace attache::cli::admin {

struct InitRequest {
    std::string label;
    bool force = false;
    bool so_pin_count_low_ok = false;
    std::string so_pin_source;
    std::string new_pin_source;
};

// Secrets read and checked, ready for initialise_token().
struct InitPins {
    Secret so_pin;
    Secret user_pin;
};

// The checks and PIN reading; changes nothing.
InitPins prepare_initialisation(SelectedToken& token, const InitRequest& request);

// C_InitToken, then C_InitPIN as the SO. A failure after C_InitToken says so.
void initialise_token(SelectedToken& token, const InitRequest& request, const InitPins& pins);

}  // namespace attache::cli::admin
