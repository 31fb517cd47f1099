#include "cli/admin/enrol_plan.h"

#include <cctype>
#include <filesystem>

#include "cli/admin/csr.h"
#include "cli/admin/distinguished_name.h"
#include "cli/admin/failure.h"
#include "cli/admin/inventory.h"
#include "cli/admin/key_checks.h"
#include "cli/admin/write_probe.h"
#include "pkcs11/names.h"
#include "pkcs11/uri.h"

namespace attache::cli::admin {
namespace {

namespace fs = std::filesystem;

constexpr const char* kNothingChanged = "; nothing was changed";

std::string file_slug(const std::string& text) {
    std::string slug;
    for (unsigned char c : text) {
        if (std::isalnum(c))
            slug += static_cast<char>(std::tolower(c));
        else if (!slug.empty() && slug.back() != '-')
            slug += '-';
    }
    while (!slug.empty() && slug.back() == '-')
        slug.pop_back();
    return slug.empty() ? "holder" : slug;
}

void check_holder(const std::string& holder) {
    if (holder.empty() || holder.size() > 128)
        fail(kUsage, "--holder must have 1 to 128 characters");
    for (unsigned char c : holder) {
        if (c < 0x20 || c == 0x7f)
            fail(kUsage, "--holder contains a control character");
    }
}

void check_mechanisms(const SelectedToken& token, const std::vector<PlannedKey>& plan) {
    std::vector<std::string> problems;
    for (const PlannedKey& key : plan) {
        for (std::string& p : unmet_needs(token.module, token.slot, mechanism_needs(key)))
            problems.push_back(std::move(p));
    }
    if (problems.empty())
        return;
    auto supported = enrollable_key_types(token.module, token.slot);
    fail(kRefusedByToken, "token " + token.describe() +
                              " does not support this key type: " + join(problems) +
                              ". Nothing was changed. Key types this token can enrol: " +
                              (supported.empty() ? std::string("none") : join(supported, ", ")));
}

// PIV through OpenSC: what the card's own commands need, checked before the card is touched.
std::vector<piv::Slot> check_piv_plan(const EnrolOptions& o, const SelectedToken& token,
                                      const std::vector<PlannedKey>& keys) {
    if (o.init)
        fail(kUsage, "token " + token.describe() +
                         " is a PIV card: it has no C_InitToken, so --init does not apply. Enrol "
                         "a blank PIV card without --init (reset a used one with its vendor's "
                         "tool first); nothing was changed");
    if (o.management_key_source.empty())
        fail(kUsage, "token " + token.describe() +
                         " is a PIV card: generating its keys and writing its certificates need "
                         "its management key. Give it with --management-key-source (prompt, fd:N, "
                         "file:PATH or env:NAME; it is never stored); nothing was changed");
    if (!o.management_key_alg.empty() && !piv::management_alg_from_name(o.management_key_alg))
        fail(kUsage, "--management-key-alg must be 3des, aes128, aes192 or aes256");
    std::vector<piv::Slot> slots;
    for (const PlannedKey& key : keys) {
        if (!piv::piv_algorithm(key.algorithm))
            fail(kRefusedByToken, "PIV cards have no " +
                                      std::string(p11::key_algorithm_name(key.algorithm)) +
                                      " keys (they have rsa-2048, rsa-3072, ec-p256 and ec-p384); "
                                      "nothing was changed");
        slots.push_back(key.role == KeyRole::authentication ? piv::Slot::authentication
                                                            : piv::Slot::key_management);
    }
    return slots;
}

}  // namespace

std::string absolute_path(const std::string& path) {
    std::error_code ec;
    fs::path a = fs::absolute(path, ec);
    return (ec ? fs::path(path) : a.lexically_normal()).string();
}

void refuse_open_enrolment(const std::string& inventory_path, const SelectedToken& token,
                           const std::string& state_prefix) {
    std::error_code ec;
    if (token.info.serial.empty() || !fs::exists(inventory_path, ec))
        return;
    Inventory inventory = check(Inventory::open(inventory_path, true), state_prefix, kInventory);
    auto open = check(inventory.open_enrolment(token.info.serial), state_prefix, kInventory);
    if (open) {
        fail(kInventory, state_prefix + "card serial " + token.info.serial +
                             " already has an open enrolment in " + inventory_path + " (record " +
                             std::to_string(open->id) + ", holder " + open->holder + ", state " +
                             std::string(state_name(open->state)) +
                             "); retire it first (`attache retire`)" +
                             (state_prefix.empty() ? kNothingChanged : ""));
    }
}

std::vector<std::string> request_paths(const EnrolOptions& o, const std::vector<PlannedKey>& keys,
                                       const std::string& serial, const std::string& state_prefix) {
    const std::string base = file_slug(o.holder) + "-" + file_slug(serial);
    std::vector<std::string> paths;
    std::error_code ec;
    for (const PlannedKey& key : keys) {
        fs::path p = fs::path(o.out_dir) / (base + "-" + std::string(role_name(key.role)) + ".csr");
        if (fs::exists(fs::symlink_status(p, ec)))
            fail(kUsage, state_prefix + "refusing to replace " + p.string() +
                             "; move it away or choose another --out" +
                             (state_prefix.empty() ? kNothingChanged : ""));
        paths.push_back(absolute_path(p.string()));
    }
    return paths;
}

EnrolPlan make_plan(const EnrolOptions& o) {
    // The arguments.
    check_holder(o.holder);
    auto key_type = p11::key_algorithm_from_name(o.key_type);
    if (!key_type)
        fail(kUsage, "unsupported key type '" + o.key_type +
                         "' (expected ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519)");
    std::optional<p11::KeyAlgorithm> encryption_type;
    if (!o.encryption_key_type.empty()) {
        encryption_type = p11::key_algorithm_from_name(o.encryption_key_type);
        if (!encryption_type)
            fail(kUsage, "unsupported encryption key type '" + o.encryption_key_type + "'");
    }
    std::vector<PlannedKey> keys =
        check(plan_keys(o.holder, *key_type, encryption_type), {}, kUsage);
    X509NamePtr subject = check(parse_distinguished_name(o.subject), {}, kUsage);
    std::optional<std::string> email;
    if (!o.email.empty()) {
        if (!plausible_email(o.email))
            fail(kUsage, "--email '" + o.email + "' is not an e-mail address");
        email = o.email;
    }
    if (Status s = probe_directory(o.out_dir, "--out " + o.out_dir); !s)
        fail(kUsage, s.error().message() + kNothingChanged);
    check(Inventory::check_usable(o.inventory), {}, kInventory);

    // The token, and the way it can be enrolled.
    SelectedToken token = select_token(o.module, o.token);
    const CardType card = card_type_of(token);
    if (card.path == EnrolmentPath::refused)
        fail(kRefusedByToken, card.refusal);
    if (!o.init && !token.info.initialized())
        fail(kUsage, "token " + token.describe() + " is not initialised; add --init --label LABEL");
    refuse_open_enrolment(o.inventory, token, {});
    std::vector<piv::Slot> piv_slots;
    std::optional<piv::ManagementAlg> management_alg;
    if (card.path == EnrolmentPath::piv) {
        piv_slots = check_piv_plan(o, token, keys);
        if (!o.management_key_alg.empty())
            management_alg = piv::management_alg_from_name(o.management_key_alg);
    } else {
        if (!o.management_key_source.empty() || !o.management_key_alg.empty())
            fail(kUsage, "--management-key-source and --management-key-alg are for PIV cards; " +
                             token.describe() + " is not one");
        check_mechanisms(token, keys);
    }

    std::optional<PlannedKey> card_auth;
    if (card.path == EnrolmentPath::piv)
        card_auth = card_auth_key(o.holder);
    EnrolPlan plan{std::move(token),   card,
                   std::move(keys),    std::move(piv_slots),
                   management_alg,     std::move(card_auth),
                   std::move(subject), std::move(email)};
    if (o.init) {
        check_initialisation(plan.token, o.init_request());
        plan.erase = inspect_card(plan.token);
        plan.needs_confirmation = plan.erase->holds_anything();
    }
    if (!plan.token.info.serial.empty())
        plan.request_paths = request_paths(o, plan.keys, plan.token.info.serial, {});
    std::error_code ec;
    plan.inventory_exists = fs::exists(o.inventory, ec);
    return plan;
}

Report plan_report(const EnrolOptions& o, const EnrolPlan& plan) {
    const SelectedToken& token = plan.token;
    Report report;
    nlohmann::json j = {{"dry_run", true},
                        {"changed", false},
                        {"token",
                         {{"uri", token.uri},
                          {"label", token.info.label},
                          {"serial", token.info.serial},
                          {"model", token.info.model}}}};
    std::string text =
        "Dry run: nothing was changed. `attache enrol` would, on token " + token.describe() + ":\n";
    if (plan.erase) {
        const CardContents& c = *plan.erase;
        j["erase"] = {
            {"initialised", c.initialised},   {"label", c.label},
            {"visible_objects", c.objects},   {"keys", c.keys},
            {"certificates", c.certificates}, {"confirmation_needed", plan.needs_confirmation}};
        j["initialise"] = {{"label", o.label},
                           {"user_pin", "set from --new-pin-source"},
                           {"new_so_pin", !o.new_so_pin_source.empty()}};
        text += "  erase the card (C_InitToken): " +
                (c.holds_anything() ? c.describe() : std::string("it holds nothing visible")) +
                (plan.needs_confirmation ? "; the card's serial must be confirmed (--confirm)"
                                         : std::string()) +
                "\n  initialise it as '" + o.label + "' and set its user PIN" +
                (o.new_so_pin_source.empty() ? std::string() : " and a new SO PIN") + "\n";
    } else {
        j["erase"] = nullptr;
        j["initialise"] = nullptr;
        text += plan.card.path == EnrolmentPath::piv
                    ? "  through PC/SC: refuse if a key slot holds a certificate; verify the PIN "
                      "and authenticate with the management key\n"
                    : "  log in with the user PIN; refuse if the card holds a private key\n";
    }
    j["generate"] = nlohmann::json::array();
    for (const PlannedKey& k : plan.keys) {
        const size_t i = j["generate"].size();
        nlohmann::json g = {{"role", role_name(k.role)},
                            {"label", k.label},
                            {"key_type", p11::key_algorithm_name(k.algorithm)}};
        std::string where = "on the card";
        if (i < plan.piv_slots.size()) {
            g["piv_slot"] = piv::slot_name(plan.piv_slots[i]);
            where = "in PIV slot " + piv::slot_name(plan.piv_slots[i]) +
                    " (GENERATE ASYMMETRIC KEY PAIR through PC/SC, after the management key)";
        }
        j["generate"].push_back(std::move(g));
        text += "  generate the " + std::string(role_name(k.role)) + " key '" + k.label + "' (" +
                std::string(p11::key_algorithm_name(k.algorithm)) + ") " + where + "\n";
    }
    if (plan.card_auth) {
        const PlannedKey& k = *plan.card_auth;
        j["generate"].push_back({{"role", role_name(k.role)},
                                 {"label", k.label},
                                 {"key_type", p11::key_algorithm_name(k.algorithm)},
                                 {"piv_slot", piv::slot_name(piv::Slot::card_auth)}});
        text += "  generate the card-auth key '" + k.label + "' (" +
                std::string(p11::key_algorithm_name(k.algorithm)) +
                ") in PIV slot 9E and write its self-signed certificate there (used without the "
                "PIN: the managed broker's check that the card is the enrolled one)\n";
    }
    j["write"] = plan.request_paths;
    if (plan.request_paths.empty())
        text += "  write one request per key in " + absolute_path(o.out_dir) +
                ", named after the serial the card gets at --init\n";
    for (const std::string& p : plan.request_paths)
        text += "  write the request " + p + "\n";
    const std::string subject = name_string(plan.subject.get());
    j["record"] = {{"inventory", absolute_path(o.inventory)},
                   {"creates_inventory", !plan.inventory_exists},
                   {"holder", o.holder},
                   {"subject", subject},
                   {"email", plan.email ? nlohmann::json(*plan.email) : nlohmann::json()},
                   {"state", state_name(CardState::awaiting_certificate)}};
    text += "  record " + o.holder + " (" + subject + ") in " + absolute_path(o.inventory) +
            (plan.inventory_exists ? "" : " (created)") + ", state awaiting-certificate\n";
    report.json = std::move(j);
    report.text = std::move(text);
    return report;
}

}  // namespace attache::cli::admin
