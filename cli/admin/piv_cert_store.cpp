#include "cli/admin/piv_cert_store.h"

#include <openssl/rand.h>

#include "cli/admin/card_signature.h"
#include "cli/admin/failure.h"
#include "cli/admin/pins.h"
#include "cli/admin/piv_access.h"

namespace attache::cli::admin {
namespace {

// The slot's private key signs a random challenge that the certificate's public key verifies.
void require_slot_holds_key(piv::PcscCard& card, piv::Slot slot, EVP_PKEY* key) {
    const std::string where = "PIV slot " + piv::slot_name(slot);
    auto algorithm = piv_key_algorithm(key);
    if (!algorithm)
        fail(kCertificateRejected,
             "the certificate's key is of a type PIV has not; nothing was changed");
    auto how = check(card_signature_algorithm(key), {}, kCertificateRejected);
    Bytes challenge(32);
    if (RAND_bytes(challenge.data(), static_cast<int>(challenge.size())) != 1)
        fail(kFailure, "no random bytes for the challenge");
    auto signature = piv_signer(card, slot, *algorithm, key)(how, challenge);
    if (!signature || !signature_verifies(key, how, challenge, *signature))
        fail(kMismatch, where + " does not hold the certificate's private key (" +
                            (signature ? std::string("its signature of a challenge does not verify")
                                       : signature.error().message()) +
                            "); run `attache verify-card`. Nothing was changed");
}

}  // namespace

std::optional<piv::Slot> slot_of_opensc_key_id(const std::string& key_id_hex) {
    for (piv::Slot slot : {piv::Slot::authentication, piv::Slot::signature,
                           piv::Slot::key_management, piv::Slot::card_auth}) {
        if (hex(piv::opensc_key_id(slot)) == key_id_hex)
            return slot;
    }
    return std::nullopt;
}

PivStoreOutcome store_piv_certificate(const SelectedToken& token, const PivCertificateStore& in) {
    Secret pin = read_pin(in.pin_source, token, PinRole::user);
    require_pin_length(pin, token.info, PinRole::user);
    piv::PcscCard card = open_piv_card(token);
    auto current = check(piv::read_certificate(card, in.slot), "reading the slot's certificate");
    if (current && *current == in.der)
        return PivStoreOutcome::already_there;
    if (current && !in.replace)
        fail(kUsage, "PIV slot " + piv::slot_name(in.slot) +
                         " already has another certificate; add --replace to replace it. Nothing "
                         "was changed");
    // The management key is read only once it is needed.
    const piv::ManagementKey management_key =
        read_management_key(in.management_key_source, in.management_alg);
    verify_piv_pin(card, pin);
    require_slot_holds_key(card, in.slot, in.certificate_key);
    authenticate_management_key(card, management_key);
    check(piv::write_certificate(card, in.slot, in.der), "writing the certificate");
    auto written = check(piv::read_certificate(card, in.slot), "reading the certificate back");
    if (!written || *written != in.der)
        fail(kFailure, "the certificate read back from PIV slot " + piv::slot_name(in.slot) +
                           " is not the one written");
    return current ? PivStoreOutcome::replaced : PivStoreOutcome::stored;
}

}  // namespace attache::cli::admin
