// attache token list: the module, its slots and tokens (URI, label, serial, model, flags with the
// PIN flags, PIN lengths) and the mechanisms enrolment uses, with the key types each token can
// enrol. Changes nothing and needs no PIN.

#include <p11-kit/p11-kit.h>

#include <algorithm>
#include <cstdlib>

#include "cli/admin/failure.h"
#include "cli/admin/key_plan.h"
#include "cli/admin/options.h"
#include "cli/admin/registration.h"
#include "cli/admin/token_select.h"
#include "cli/command_output.h"
#include "pkcs11/names.h"
#include "pkcs11/uri.h"

namespace attache::cli::admin {
namespace {

struct TokenListOptions {
    std::string module;
    std::string token;
    bool json = false;
};

struct FlagName {
    CK_FLAGS flag;
    const char* name;
};

constexpr FlagName kTokenFlags[] = {
    {CKF_RNG, "rng"},
    {CKF_WRITE_PROTECTED, "write-protected"},
    {CKF_LOGIN_REQUIRED, "login-required"},
    {CKF_USER_PIN_INITIALIZED, "user-pin-initialized"},
    {CKF_RESTORE_KEY_NOT_NEEDED, "restore-key-not-needed"},
    {CKF_CLOCK_ON_TOKEN, "clock-on-token"},
    {CKF_PROTECTED_AUTHENTICATION_PATH, "protected-authentication-path"},
    {CKF_DUAL_CRYPTO_OPERATIONS, "dual-crypto-operations"},
    {CKF_TOKEN_INITIALIZED, "token-initialized"},
    {CKF_SECONDARY_AUTHENTICATION, "secondary-authentication"},
    {CKF_USER_PIN_COUNT_LOW, "user-pin-count-low"},
    {CKF_USER_PIN_FINAL_TRY, "user-pin-final-try"},
    {CKF_USER_PIN_LOCKED, "user-pin-locked"},
    {CKF_USER_PIN_TO_BE_CHANGED, "user-pin-to-be-changed"},
    {CKF_SO_PIN_COUNT_LOW, "so-pin-count-low"},
    {CKF_SO_PIN_FINAL_TRY, "so-pin-final-try"},
    {CKF_SO_PIN_LOCKED, "so-pin-locked"},
    {CKF_SO_PIN_TO_BE_CHANGED, "so-pin-to-be-changed"},
};

constexpr FlagName kMechanismFlags[] = {
    {CKF_HW, "hw"},         {CKF_ENCRYPT, "encrypt"}, {CKF_DECRYPT, "decrypt"},
    {CKF_SIGN, "sign"},     {CKF_VERIFY, "verify"},   {CKF_GENERATE_KEY_PAIR, "generate-key-pair"},
    {CKF_DERIVE, "derive"}, {CKF_WRAP, "wrap"},       {CKF_UNWRAP, "unwrap"},
};

// The mechanisms enrolment, requests and the agent use.
constexpr CK_MECHANISM_TYPE kRelevantMechanisms[] = {
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_RSA_PKCS,
    CKM_RSA_PKCS_OAEP,
    CKM_RSA_PKCS_PSS,
    CKM_EC_KEY_PAIR_GEN,
    CKM_ECDSA,
    CKM_ECDH1_DERIVE,
    CKM_EC_EDWARDS_KEY_PAIR_GEN,
    CKM_EDDSA,
};

std::vector<std::string> flag_names(CK_FLAGS flags, const FlagName* table, size_t size) {
    std::vector<std::string> names;
    for (size_t i = 0; i < size; ++i) {
        if (flags & table[i].flag)
            names.emplace_back(table[i].name);
    }
    return names;
}

std::string version(const CK_VERSION& v) {
    return std::to_string(v.major) + "." + std::to_string(v.minor);
}

std::string padded(const unsigned char* field, size_t size) {
    return p11::trim_padded(field, size);
}

nlohmann::json registered_modules() {
    nlohmann::json out = nlohmann::json::array();
    CK_FUNCTION_LIST** modules = p11_kit_modules_load(nullptr, P11_KIT_MODULE_UNMANAGED);
    if (modules == nullptr)
        return out;
    for (CK_FUNCTION_LIST** m = modules; *m != nullptr; ++m) {
        char* name = p11_kit_module_get_name(*m);
        char* file = p11_kit_module_get_filename(*m);
        out.push_back({{"name", name ? name : ""}, {"path", file ? file : ""}});
        free(name);
        free(file);
    }
    p11_kit_modules_release(modules);
    return out;
}

nlohmann::json mechanisms_json(const p11::Module& module, CK_SLOT_ID slot) {
    nlohmann::json out = nlohmann::json::array();
    auto list = module.mechanisms(slot);
    for (CK_MECHANISM_TYPE m : kRelevantMechanisms) {
        nlohmann::json entry{{"name", p11::mechanism_name(m)}};
        const bool present = list && std::find(list->begin(), list->end(), m) != list->end();
        entry["present"] = present;
        if (present) {
            if (auto info = module.mechanism_info(slot, m)) {
                entry["min_key_size"] = info->ulMinKeySize;
                entry["max_key_size"] = info->ulMaxKeySize;
                entry["flags"] =
                    flag_names(info->flags, kMechanismFlags, std::size(kMechanismFlags));
            }
        }
        out.push_back(std::move(entry));
    }
    return out;
}

nlohmann::json token_json(const p11::Module& module, CK_SLOT_ID slot, const p11::TokenInfo& t) {
    return {{"uri", p11::Uri::for_token(t)},
            {"label", t.label},
            {"manufacturer", t.manufacturer},
            {"model", t.model},
            {"serial", t.serial},
            {"flags", flag_names(t.flags, kTokenFlags, std::size(kTokenFlags))},
            {"pin_flags", p11::pin_flag_names(t.flags)},
            {"min_pin_length", t.min_pin_len},
            {"max_pin_length", t.max_pin_len},
            {"initialized", t.initialized()},
            {"mechanisms", mechanisms_json(module, slot)},
            {"enrollable_key_types", enrollable_key_types(module, slot)}};
}

std::string token_text(const nlohmann::json& t) {
    std::string s = "  Token " + t["uri"].get<std::string>() + "\n    label '" +
                    t["label"].get<std::string>() + "', serial " + t["serial"].get<std::string>() +
                    ", model " + t["model"].get<std::string>() + ", manufacturer " +
                    t["manufacturer"].get<std::string>() + "\n    flags: ";
    std::vector<std::string> flags = t["flags"];
    for (size_t i = 0; i < flags.size(); ++i)
        s += (i ? ", " : "") + flags[i];
    const std::string pin_flags = t["pin_flags"];
    s += "\n    PIN length " + std::to_string(t["min_pin_length"].get<unsigned long>()) + " to " +
         std::to_string(t["max_pin_length"].get<unsigned long>()) +
         "; PIN flags: " + (pin_flags.empty() ? std::string("none") : pin_flags) +
         "\n    mechanisms:";
    for (const auto& m : t["mechanisms"]) {
        s += "\n      " + m["name"].get<std::string>();
        if (!m["present"].get<bool>()) {
            s += " (absent)";
            continue;
        }
        if (m.contains("min_key_size")) {
            s += " " + std::to_string(m["min_key_size"].get<unsigned long>()) + "-" +
                 std::to_string(m["max_key_size"].get<unsigned long>()) + ":";
            for (const auto& f : m["flags"])
                s += " " + f.get<std::string>();
        }
    }
    std::vector<std::string> types = t["enrollable_key_types"];
    s += "\n    can enrol: ";
    for (size_t i = 0; i < types.size(); ++i)
        s += (i ? ", " : "") + types[i];
    if (types.empty())
        s += "nothing (see the mechanisms above)";
    return s + "\n";
}

Report token_list(const TokenListOptions& o) {
    Report report;
    nlohmann::json registered;
    if (o.module == p11::kP11KitProxy)
        registered = registered_modules();  // before the proxy loads them itself
    p11::Module module = load_module(o.module);
    CK_INFO info = check(module.info(), "reading the module's information");

    // Slots whose token the URI selects (an empty URI: every slot, with or without a token).
    std::vector<CK_SLOT_ID> selected;
    if (!o.token.empty()) {
        for (const TokenCandidate& c : matching_tokens(module, o.token))
            selected.push_back(c.slot);
    }

    nlohmann::json slots = nlohmann::json::array();
    std::string text =
        "Module " + module.path() + " (" + padded(info.manufacturerID, sizeof info.manufacturerID) +
        ": " + padded(info.libraryDescription, sizeof info.libraryDescription) + ", library " +
        version(info.libraryVersion) + ", PKCS#11 " + version(info.cryptokiVersion) + ")\n";
    if (registered.is_array()) {
        text += "Modules registered with p11-kit:\n";
        for (const auto& m : registered)
            text +=
                "  " + m["name"].get<std::string>() + " (" + m["path"].get<std::string>() + ")\n";
    }
    for (CK_SLOT_ID slot : check(module.slots(false), "listing the slots")) {
        if (!o.token.empty() && std::find(selected.begin(), selected.end(), slot) == selected.end())
            continue;
        auto slot_info = module.slot_info(slot);
        if (!slot_info)
            continue;
        nlohmann::json s{{"id", slot},
                         {"description", slot_info->description},
                         {"manufacturer", slot_info->manufacturer},
                         {"token_present", slot_info->token_present()},
                         {"removable", slot_info->removable()}};
        text += "Slot " + std::to_string(slot) + ": " + slot_info->description + "\n";
        if (slot_info->token_present()) {
            if (auto token = module.token_info(slot)) {
                s["token"] = token_json(module, slot, *token);
                text += token_text(s["token"]);
            } else {
                s["token_error"] = token.error().message();
                text += "  token unreadable: " + token.error().message() + "\n";
            }
        } else {
            text += "  no token\n";
        }
        slots.push_back(std::move(s));
    }
    if (!o.token.empty() && selected.empty())
        fail(kKeyNotFound, "no token matches " + o.token);

    report.json = {
        {"module",
         {{"spec", o.module},
          {"path", module.path()},
          {"manufacturer", padded(info.manufacturerID, sizeof info.manufacturerID)},
          {"description", padded(info.libraryDescription, sizeof info.libraryDescription)},
          {"library_version", version(info.libraryVersion)},
          {"cryptoki_version", version(info.cryptokiVersion)}}},
        {"slots", slots}};
    if (registered.is_array())
        report.json["registered_modules"] = registered;
    report.text = text;
    return report;
}

}  // namespace

void add_token_commands(CLI::App& app, int& exit_code) {
    CLI::App* token = app.add_subcommand("token", "Tokens and the modules that reach them");
    token->require_subcommand(1);
    auto o = std::make_shared<TokenListOptions>();
    CLI::App* list = token->add_subcommand(
        "list", "List modules, slots and tokens with their flags and enrolment mechanisms");
    add_module_option(*list, o->module);
    add_token_option(*list, o->token, false);
    add_output_flags(*list, o->json);
    list->callback(
        [o, &exit_code] { run_command(o->json, exit_code, [o] { return token_list(*o); }); });
}

}  // namespace attache::cli::admin
