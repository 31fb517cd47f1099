#pragma once

// Which way `attache enrol` and `cert import` take for a token, decided from what the module
// and the token say about themselves, before anything is sent to the card:
//   pkcs11   any module but OpenSC's: C_GenerateKeyPair, attributes read back and checked
//            (CKA_LOCAL, CKA_SENSITIVE, CKA_NEVER_EXTRACTABLE ...);
//   piv      OpenSC's PIV emulation (token manufacturer "piv_II"): OpenSC 0.23 has no key-pair
//            generation mechanism for PIV and cannot write its certificates (C_CreateObject is
//            CKR_FUNCTION_NOT_SUPPORTED), so Attache speaks to the card itself through PC/SC
//            (cli/admin/piv/): GENERATE ASYMMETRIC KEY PAIR after the management key, PUT DATA;
//   refused  any other card OpenSC drives: OpenSC's C_GenerateKeyPair gives keys without
//            CKA_LOCAL / CKA_NEVER_EXTRACTABLE on pkcs15-init cards, and its emulated cards
//            claim those attributes whatever the card did, so no enrolment through it is
//            truthful. `refusal` says what to do instead.

#include <string>
#include <string_view>

#include "cli/admin/token_select.h"
#include "pkcs11/token_info.h"

namespace attache::cli::admin {

enum class EnrolmentPath { pkcs11, piv, refused };

struct CardType {
    EnrolmentPath path = EnrolmentPath::pkcs11;
    std::string refusal;  // path refused: the message (ends with "Nothing was changed")
};

// `library_manufacturer` is CK_INFO.manufacturerID (OpenSC: "OpenSC Project").
CardType enrolment_card_type(std::string_view library_manufacturer, const p11::TokenInfo& token);

// The same for a selected token (reads CK_INFO).
CardType card_type_of(const SelectedToken& token);

bool is_opensc_piv(std::string_view library_manufacturer, const p11::TokenInfo& token);

}  // namespace attache::cli::admin
