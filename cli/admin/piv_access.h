#pragma once

// The admin commands' side of a PIV card reached through PC/SC (cli/admin/piv/): the card
// behind an OpenSC token opened and checked to be that token, the PIN and the management key
// read from their secret sources and presented once, signatures made with a slot's key.
// Failures are CommandFailures with the exit codes of the PKCS#11 path (a wrong PIN or
// management key: kWrongPin; blocked: kPinBlocked; final PIN try: kFinalTry).

#include <openssl/evp.h>

#include <optional>
#include <string>

#include "cli/admin/card_signature.h"
#include "cli/admin/piv/management_key.h"
#include "cli/admin/piv/pcsc_card.h"
#include "cli/admin/piv/piv_card.h"
#include "cli/admin/token_select.h"
#include "pkcs11/secret.h"

namespace attache::cli::admin {

// The card in the token's reader (OpenSC's slot description is the PC/SC reader name), inside
// one PC/SC transaction, the PIV application selected, its CHUID GUID checked against the
// token's serial (OpenSC's serial is the GUID's last 8 bytes in hex).
piv::PcscCard open_piv_card(const SelectedToken& token);

// The management key from its source (hex digits); parsed and length-checked before the card
// sees it.
piv::ManagementKey read_management_key(const std::string& source,
                                       std::optional<piv::ManagementAlg> alg);
void authenticate_management_key(piv::PcscCard& card, const piv::ManagementKey& key);

// The PIN's state asked first (a blocked PIN or its final try is never presented), then one
// VERIFY.
void verify_piv_pin(piv::PcscCard& card, const Secret& pin);

// Signatures by the slot's key through GENERAL AUTHENTICATE (RSA: PKCS#1 v1.5 padding made
// here, the card doing the raw operation; EC: the card's DER ECDSA signature). The PIN must be
// verified first; a 9C key needs a VERIFY before each signature.
CardSigner piv_signer(piv::PcscCard& card, piv::Slot slot, p11::KeyAlgorithm algorithm,
                      EVP_PKEY* public_key);

// The PIV key type of a public key (nullopt: none PIV has).
std::optional<p11::KeyAlgorithm> piv_key_algorithm(EVP_PKEY* public_key);

}  // namespace attache::cli::admin
