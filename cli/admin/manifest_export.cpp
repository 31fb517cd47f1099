#include "cli/admin/manifest_export.h"

#include <openssl/crypto.h>

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
