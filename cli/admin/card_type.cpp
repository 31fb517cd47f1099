#include "cli/admin/card_type.h"

namespace attache::cli::admin {
namespace {

bool is_opensc(std::string_view library_manufacturer) {
    return library_manufacturer.starts_with("OpenSC");
}

}  // namespace

bool is_opensc_piv(std::string_view library_manufacturer, const p11::TokenInfo& token) {
    // OpenSC's PIV emulation (pkcs15-piv.c) names every PIV card's manufacturer "piv_II",
    // YubiKeys included.
    return is_opensc(library_manufacturer) && token.manufacturer == "piv_II";
}

CardType enrolment_card_type(std::string_view library_manufacturer, const p11::TokenInfo& token) {
    if (!is_opensc(library_manufacturer))
        return {EnrolmentPath::pkcs11, {}};
    if (is_opensc_piv(library_manufacturer, token))
        return {EnrolmentPath::piv, {}};
    return {EnrolmentPath::refused,
            "token '" + token.label + "' (manufacturer '" + token.manufacturer + "', model '" +
                token.model +
                "') is driven by OpenSC, which cannot enrol this card type truthfully: its "
                "C_GenerateKeyPair gives keys without CKA_LOCAL / CKA_NEVER_EXTRACTABLE on cards "
                "it initialises, and its emulated cards report those attributes as true whatever "
                "the card did. Attache enrols PIV cards through OpenSC, and other cards through a "
                "PKCS#11 module that generates keys itself (the vendor's). For this card, "
                "generate its keys with the vendor's tool or `pkcs15-init --generate-key` outside "
                "Attache. Nothing was changed"};
}

CardType card_type_of(const SelectedToken& token) {
    auto info = token.module.info();
    std::string manufacturer;
    if (info) {
        manufacturer.assign(reinterpret_cast<const char*>(info->manufacturerID),
                            sizeof info->manufacturerID);
        while (!manufacturer.empty() && (manufacturer.back() == ' ' || manufacturer.back() == '\0'))
            manufacturer.pop_back();
    }
    return enrolment_card_type(manufacturer, token.info);
}

}  // namespace attache::cli::admin
