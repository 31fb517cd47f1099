#include "cli/admin/manifest_export.h"

#include <openssl/crypto.h>

#include <cctype>
#include <ctime>
#include <map>

#include "cli/admin/card_state.h"
#include "cli/admin/failure.h"
#include "cli/admin/inventory.h"
#include "cli/admin/openssl_util.h"
#include "cli/exit_codes.h"
#include "cli/file_io.h"
#include "cli/output_option.h"
#include "pkcs11/card_manifest/card_manifest.h"
#include "pkcs11/card_manifest/manifest_signature.h"

namespace attache::cli::admin {
namespace {

// Each card's newest record says what the card is now: a card enrolled again after a loss
// has a new record, and a card marked lost keeps its last one.
std::vector<Enrolment> newest_per_card(std::vector<Enrolment> records) {
    std::map<std::string, Enrolment> newest;
    for (auto& e : records) {
        auto it = newest.find(e.token_serial);
        if (it == newest.end() || it->second.id < e.id)
            newest[e.token_serial] = std::move(e);
    }
    std::vector<Enrolment> out;
    for (auto& [serial, e] : newest)
        out.push_back(std::move(e));
    return out;
}

manifest::ManifestCard card_of(const Enrolment& e) {
    manifest::ManifestCard card;
    card.serial = e.token_serial;
    card.model = e.token_model;
    card.manufacturer = e.token_manufacturer;
    card.holder = e.holder;
    card.state = std::string(state_name(e.state));
    for (const KeyRecord& k : e.keys)
        card.keys.push_back({k.role, k.spki_sha256});
    return card;
}

// Workstations name holders by login name: POSIX's portable user names, as useradd takes them.
bool is_login_name(const std::string& s) {
    if (s.empty() || s.size() > 32 ||
        !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_'))
        return false;
    for (char c : s) {
        if (!(std::islower(static_cast<unsigned char>(c)) ||
              std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

}  // namespace

Report export_manifest(const ManifestExportOptions& o) {
    if (o.signing_key.empty())
        fail(kUsage, "--manifest needs --signing-key KEY (the admin's Ed25519 or P-256 key, PEM)");
    if (o.out.empty() || o.out == "-")
        fail(kUsage, "--manifest needs --out FILE (FILE.sig is written beside it)");
    // Both outputs are checked before anything is written.
    OutputFile manifest_out = prepare_output(o.out, {0644, true});
    OutputFile signature_out = prepare_output(o.out + ".sig", {0644, true});
    auto key = read_input(o.signing_key);
    if (!key)
        fail(kUsage, key.error().message());
    Inventory inventory = check(Inventory::open(o.inventory, true), {}, kInventory);
    const auto records = newest_per_card(check(inventory.list({}), {}, kInventory));

    manifest::CardManifest m;
    const std::time_t now = std::time(nullptr);
    m.issued_at = time_string(now);
    m.sequence = static_cast<uint64_t>(now);  // the broker refuses one older than it has
    size_t active = 0;
    for (const Enrolment& e : records) {
        // A served card's holder must be a login the broker can match; a card that is not
        // served (lost, retired, ...) is listed as it is, so that it is refused by name.
        if (e.state == CardState::active && !is_login_name(e.holder))
            fail(kUsage, "record " + std::to_string(e.id) + " (card " + e.token_serial +
                             "): holder '" + e.holder +
                             "' is not a login name; the manifest gives each card to a login on "
                             "the workstations. Enrol managed-mode cards with --holder LOGIN");
        m.cards.push_back(card_of(e));
        active += m.cards.back().active() ? 1 : 0;
    }
    const std::string text = manifest::serialize(m);
    auto signature = manifest::sign_manifest(text, to_string(*key));
    OPENSSL_cleanse(key->data(), key->size());
    if (!signature)
        fail(kUsage, signature.error().message());
    commit_output(manifest_out, text);
    commit_output(signature_out, *signature);
    return Report{{{"out", o.out},
                   {"signature", o.out + ".sig"},
                   {"cards", m.cards.size()},
                   {"active", active},
                   {"sequence", m.sequence}},
                  "Wrote the manifest of " + std::to_string(m.cards.size()) + " card(s) (" +
                      std::to_string(active) + " active) to " + o.out + " and its signature to " +
                      o.out +
                      ".sig.\nInstall both as /etc/attache/cards.manifest and "
                      "/etc/attache/cards.manifest.sig on each managed workstation."};
}

}  // namespace attache::cli::admin
