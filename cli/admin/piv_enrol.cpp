#include "cli/admin/piv_enrol.h"

#include "cli/admin/card_auth_certificate.h"
#include "cli/admin/enrol_steps.h"
#include "cli/admin/failure.h"
#include "cli/admin/interrupt.h"
#include "cli/admin/key_checks.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/pins.h"
#include "cli/admin/piv_access.h"
#include "cli/admin/progress.h"
#include "pkcs11/names.h"

namespace attache::cli::admin {
namespace {

constexpr piv::Slot kAllSlots[] = {piv::Slot::authentication, piv::Slot::signature,
                                   piv::Slot::key_management, piv::Slot::card_auth};

// A blank card: no certificate object in any key slot. (PIV cannot list keys without one.)
void require_blank(piv::PcscCard& card, const SelectedToken& token) {
    std::vector<std::string> used;
    for (piv::Slot slot : kAllSlots) {
        auto cert = check(piv::read_certificate(card, slot), "reading the card's certificates");
        if (cert)
            used.push_back(piv::slot_name(slot));
    }
    if (!used.empty())
        fail(kUsage, "PIV card " + token.describe() + " already holds a certificate in slot(s) " +
                         join(used, ", ") +
                         "; Attache enrols blank PIV cards. Retire the card, or reset its PIV "
                         "application with the vendor's tool. Nothing was changed");
}

std::string slot_list(const std::vector<std::string>& slots) {
    return join(slots, ", ");
}

// GENERATE in 9E, then the key's certificate signed by the key itself (written later, with PUT
// DATA of 5FC101). 9E is used without the PIN (SP 800-73-4), so OpenSC shows it before login.
EnrolledKey enrol_card_auth(piv::PcscCard& card, const PlannedKey& key, const EnrolPlan& plan,
                            std::vector<std::string>& generated_slots, const StopFn& stop) {
    const piv::Slot slot = piv::Slot::card_auth;
    Progress progress("Generating the card-auth key (" +
                      std::string(p11::key_algorithm_name(key.algorithm)) + ") in PIV slot 9E");
    auto pub = piv::generate(card, slot, key.algorithm);
    progress.finish(pub.has_value());
    if (!pub)
        stop(exit_code_for(pub.error()),
             "generating the card-auth key failed: " + pub.error().message());
    generated_slots.push_back(piv::slot_name(slot));
    auto spki = p11::spki_der(pub->get());
    if (!spki)
        stop(kFailure, spki.error().message());
    auto der = make_card_auth_certificate(piv_signer(card, slot, key.algorithm, pub->get()),
                                          pub->get(), plan.subject.get(), std::time(nullptr));
    if (!der)
        stop(kFailure, der.error().message());
    EnrolledKey k{key, piv::opensc_key_id(slot), std::move(*pub), sha256_hex(*spki),
                  "",  piv::slot_name(slot)};
    k.certificate = std::move(*der);
    return k;
}

}  // namespace

Report enrol_piv(const EnrolOptions& o, EnrolPlan& plan) {
    SelectedToken& token = plan.token;
    // 1. Secrets first: Ctrl-C at a prompt simply ends the command, nothing having changed.
    Secret pin = read_pin(o.pin_source, token, PinRole::user);
    require_pin_length(pin, token.info, PinRole::user);
    const piv::ManagementKey management_key =
        read_management_key(o.management_key_source, plan.management_alg);

    // 2-3. The card, checked and authenticated; nothing written yet.
    piv::PcscCard card = open_piv_card(token);
    require_blank(card, token);
    verify_piv_pin(card, pin);
    authenticate_management_key(card, management_key);

    InterruptGuard interrupt;
    if (interrupt.requested())
        fail(kCancelled, "interrupted before any key was generated; nothing was changed");

    std::vector<std::string> generated_slots;
    bool card_auth_written = false;
    WrittenFiles written;
    auto stop = [&](int code, const std::string& message) {
        written.undo();
        std::string state =
            generated_slots.empty() ? std::string("No key was generated")
            : card_auth_written
                ? "PIV slot(s) " + slot_list(generated_slots) +
                      " hold keys this run generated, and 9E its certificate: reset the card's "
                      "PIV application with the vendor's tool before enrolling it again"
                : "PIV slot(s) " + slot_list(generated_slots) +
                      " hold keys this run generated: PIV cannot delete keys; they have no "
                      "certificate (OpenSC shows none) and the next enrolment replaces them";
        fail(code, message + ". " + state + "; the inventory was not changed.");
    };
    auto checkpoint = [&] {
        if (interrupt.requested())
            stop(kCancelled, "interrupted");
    };

    std::vector<EnrolledKey> keys;
    try {
        // 4. Generate: the public key from the card's own answer.
        for (size_t i = 0; i < plan.keys.size(); ++i) {
            const PlannedKey& key = plan.keys[i];
            const piv::Slot slot = plan.piv_slots[i];
            Progress progress("Generating the " + std::string(role_name(key.role)) + " key (" +
                              std::string(p11::key_algorithm_name(key.algorithm)) +
                              ") in PIV slot " + piv::slot_name(slot));
            auto pub = piv::generate(card, slot, key.algorithm);
            progress.finish(pub.has_value());
            if (!pub)
                stop(exit_code_for(pub.error()), "generating the " +
                                                     std::string(role_name(key.role)) +
                                                     " key failed: " + pub.error().message());
            generated_slots.push_back(piv::slot_name(slot));
            auto spki = p11::spki_der(pub->get());
            if (!spki)
                stop(kFailure, spki.error().message());
            keys.push_back({key, piv::opensc_key_id(slot), std::move(*pub), sha256_hex(*spki),
                            plan.request_paths[i], piv::slot_name(slot)});
            checkpoint();
        }

        // 4b. The card-authentication key (9E) and its self-signed certificate: no CA is asked
        //     for it, and OpenSC shows the key only with a certificate.
        if (plan.card_auth) {
            keys.push_back(enrol_card_auth(card, *plan.card_auth, plan, generated_slots, stop));
            checkpoint();
        }

        // 5. Requests, signed by the slots' keys.
        auto signer = [&](const EnrolledKey& k) {
            const piv::Slot slot = plan.piv_slots[static_cast<size_t>(&k - keys.data())];
            return piv_signer(card, slot, k.plan.algorithm, k.public_key.get());
        };
        write_requests(keys, plan, signer, written, stop, checkpoint);

        // 5b. 9E's certificate on the card, the last write before the inventory: a card with a
        //     certificate is no longer blank for the next enrolment.
        if (plan.card_auth) {
            if (Status s =
                    piv::write_certificate(card, piv::Slot::card_auth, keys.back().certificate);
                !s)
                stop(kFailure, s.error().message());
            card_auth_written = true;
        }

        // 6. The inventory: how the keys' origin was established.
        const std::string how =
            "enrolled on a PIV card through PC/SC: keys generated by this command in slot(s) " +
            slot_list(generated_slots) +
            " (public keys from the card's GENERATE ASYMMETRIC KEY PAIR answers; PIV has no key "
            "import)" +
            (plan.card_auth ? std::string("; the card-auth key's self-signed certificate written "
                                          "to 9E")
                            : std::string());
        checkpoint();
        return record_enrolment(o, plan, keys, how, false, stop, [&] {
            written.commit();
            generated_slots.clear();
        });
    } catch (const CommandFailure&) {
        throw;
    } catch (const std::exception& e) {
        stop(kFailure, std::string("internal error: ") + e.what());
        throw;
    }
}

}  // namespace attache::cli::admin
