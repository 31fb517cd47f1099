#pragma once

// `attache enrol` on a PIV card that OpenSC drives (card_type.h: EnrolmentPath::piv). OpenSC
// 0.23 cannot generate PIV keys through PKCS#11, so this speaks to the card through PC/SC
// (piv_access.h), in one PC/SC transaction:
//   1. the user PIN and the management key read from their sources (nothing sent yet);
//   2. the card in the token's reader opened and checked to be the token (CHUID serial);
//      a certificate in any of the slots 9A, 9C, 9D, 9E refuses the card (not blank);
//   3. VERIFY of the PIN (its state asked first), mutual authentication with the management key:
//      a wrong one ends here with the key slots untouched;
//   4. GENERATE ASYMMETRIC KEY PAIR in each planned slot (authentication 9A, encryption 9D): the
//      public key is the one in the card's answer, the proof that the card made the pair just
//      now (SP 800-73-4 has no key import);
//   4b. the card-authentication key in 9E (EC P-256, used without the PIN: the managed broker's
//      challenge, docs/threat-model.md), its certificate self-signed by it and written (5FC101);
//   5. one request per key (9E: none), signed by GENERAL AUTHENTICATE with that slot's key and
//      verified against the public key from step 4;
//   6. the inventory record, whose event says how the keys' origin was established.
// The card is reset when the transaction ends, dropping the PIN's and the management key's
// status. PIV cannot delete a key: after a failure in steps 4-6 the slots keep the keys this run
// generated (without certificates, so OpenSC shows none); the message says which, and the next
// enrolment replaces them.

#include "cli/admin/enrol_plan.h"

namespace attache::cli::admin {

Report enrol_piv(const EnrolOptions& options, EnrolPlan& plan);

}  // namespace attache::cli::admin
