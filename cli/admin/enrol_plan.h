#pragma once

// The plan of an enrolment: everything `attache enrol` will do, worked out and checked before
// the card or the inventory is changed, and without reading a PIN. make_plan() refuses (with
// "nothing was changed") whatever would fail later for a reason known in advance:
//   - the arguments: key types, subject DN, e-mail, holder, --label;
//   - the token: exactly one matches --token; its mechanisms support the key types; without
//     --init it is initialised; the SO PIN's retry flags allow a try (--init);
//   - the inventory: Attache's, of a schema this build knows, writable (a write in a
//     transaction that is rolled back, or a file created and removed where it will be made),
//     and no open record for this card;
//   - the output directory: a file can be created there (and is removed again), and no request
//     file that enrolment would write exists yet.
// OpenSC's PIV cards (card_type.h) are enrolled through PC/SC (piv_enrol.h): no --init, key types
// PIV has, and a --management-key-source; any other card OpenSC drives is refused here.
// A card that gets its serial number only at --init (a blank token) has its request names and
// open record checked again once it has one; a blank card holds nothing to lose.
//
// `--dry-run` prints the plan (plan_report) and stops there.

#include <optional>
#include <string>
#include <vector>

#include "cli/admin/card_type.h"
#include "cli/admin/key_plan.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/piv/management_key.h"
#include "cli/admin/piv/piv_card.h"
#include "cli/admin/token_init.h"
#include "cli/admin/token_select.h"
#include "cli/command_output.h"

namespace attache::cli::admin {

struct EnrolOptions {
    std::string module;
    std::string token;
    std::string holder;
    std::string subject;
    std::string email;
    std::string key_type = "ec-p256";
    std::string encryption_key_type;
    bool init = false;
    std::string label;
    std::string confirm;
    bool dry_run = false;
    bool so_pin_count_low_ok = false;
    std::string out_dir = ".";
    std::string inventory;
    std::string pin_source;
    std::string so_pin_source;
    std::string new_pin_source;
    std::string new_so_pin_source;
    // PIV cards through OpenSC (card_type.h): the management key, per command, never stored.
    std::string management_key_source;
    std::string management_key_alg;  // empty: from the key's length (and the card, for 24 bytes)
    bool json = false;

    InitRequest init_request() const {
        return {label, so_pin_count_low_ok, so_pin_source, new_pin_source, new_so_pin_source};
    }
};

struct EnrolPlan {
    SelectedToken token;
    CardType card;
    std::vector<PlannedKey> keys;
    // EnrolmentPath::piv: the slot of each key, in `keys` order (authentication 9A, encryption
    // 9D), and the management key's algorithm when given.
    std::vector<piv::Slot> piv_slots;
    std::optional<piv::ManagementAlg> management_alg;
    // EnrolmentPath::piv: the card-authentication key for slot 9E (key_plan.h), besides `keys`:
    // no request; enrolment writes its self-signed certificate.
    std::optional<PlannedKey> card_auth;
    X509NamePtr subject;
    std::optional<std::string> email;
    // --init: what the card holds now, and whether the operator must confirm its erasure.
    std::optional<CardContents> erase;
    bool needs_confirmation = false;
    // One per key, in `keys` order; empty while the card has no serial number (before --init).
    std::vector<std::string> request_paths;
    bool inventory_exists = false;
};

EnrolPlan make_plan(const EnrolOptions& options);

// The request files for a card serial, absolute; kUsage when one exists already.
// `state_prefix` starts the refusal's message (what has happened to the card so far).
std::vector<std::string> request_paths(const EnrolOptions& options,
                                       const std::vector<PlannedKey>& keys,
                                       const std::string& serial, const std::string& state_prefix);

// Refuses (kInventory) a card that has an open record in the inventory.
void refuse_open_enrolment(const std::string& inventory_path, const SelectedToken& token,
                           const std::string& state_prefix);

// What --dry-run prints: what would be erased, generated, written and recorded.
Report plan_report(const EnrolOptions& options, const EnrolPlan& plan);

std::string absolute_path(const std::string& path);

}  // namespace attache::cli::admin
