#pragma once

// `attache cert import` on a PIV card that OpenSC drives: OpenSC 0.23 cannot write PIV
// certificates (C_CreateObject is CKR_FUNCTION_NOT_SUPPORTED), and shows a PIV key only once its
// slot holds a certificate, so the certificate goes to the card through PC/SC:
//   - the user PIN verified, then a fresh random challenge signed by the slot's key (GENERAL
//     AUTHENTICATE) must verify with the certificate's public key: the slot holds that key;
//   - the management key authenticated, PUT DATA of the slot's certificate object, read back.
// Issuer certificates have no place on a PIV card: they are checked (--chain), not stored.

#include <openssl/evp.h>

#include <optional>
#include <string>

#include "cli/admin/piv/management_key.h"
#include "cli/admin/piv/piv_card.h"
#include "cli/admin/token_select.h"

namespace attache::cli::admin {

struct PivCertificateStore {
    piv::Slot slot = piv::Slot::authentication;
    EVP_PKEY* certificate_key = nullptr;
    Bytes der;
    bool replace = false;
    std::string pin_source;
    std::string management_key_source;
    std::optional<piv::ManagementAlg> management_alg;
};

enum class PivStoreOutcome { stored, replaced, already_there };

// CommandFailure (nothing written) for a wrong PIN or management key, another key in the slot
// (kMismatch), or another certificate there without `replace` (kUsage).
PivStoreOutcome store_piv_certificate(const SelectedToken& token, const PivCertificateStore& in);

// The slot of a key OpenSC lists with this CKA_ID (01 9A, 02 9C, 03 9D, 04 9E).
std::optional<piv::Slot> slot_of_opensc_key_id(const std::string& key_id_hex);

}  // namespace attache::cli::admin
