#include "cli/admin/key_plan.h"

#include <algorithm>

#include "pkcs11/names.h"

namespace attache::cli::admin {
namespace {

constexpr p11::KeyAlgorithm kAllAlgorithms[] = {
    p11::KeyAlgorithm::ec_p256, p11::KeyAlgorithm::ec_p384, p11::KeyAlgorithm::rsa2048,
    p11::KeyAlgorithm::rsa3072, p11::KeyAlgorithm::rsa4096, p11::KeyAlgorithm::ed25519};

CK_ULONG algorithm_bits(p11::KeyAlgorithm algorithm) {
    switch (algorithm) {
        case p11::KeyAlgorithm::rsa2048:
            return 2048;
        case p11::KeyAlgorithm::rsa3072:
            return 3072;
        case p11::KeyAlgorithm::rsa4096:
            return 4096;
        case p11::KeyAlgorithm::ec_p256:
            return 256;
        case p11::KeyAlgorithm::ec_p384:
            return 384;
        case p11::KeyAlgorithm::ed25519:
            return 0;  // modules disagree on how to count Edwards key sizes
    }
    return 0;
}

std::string names_of(const std::vector<CK_MECHANISM_TYPE>& mechanisms) {
    std::string out;
    for (CK_MECHANISM_TYPE m : mechanisms) {
        if (!out.empty())
            out += " or ";
        out += p11::mechanism_name(m);
    }
    return out;
}

}  // namespace

std::string_view role_name(KeyRole role) {
    switch (role) {
        case KeyRole::authentication:
            return "authentication";
        case KeyRole::encryption:
            return "encryption";
        case KeyRole::card_auth:
            return "card-auth";
    }
    return "authentication";
}

std::optional<KeyRole> role_from_name(std::string_view name) {
    if (name == "authentication")
        return KeyRole::authentication;
    if (name == "encryption")
        return KeyRole::encryption;
    if (name == "card-auth")
        return KeyRole::card_auth;
    return std::nullopt;
}

std::string key_label(const std::string& holder, KeyRole role) {
    if (role == KeyRole::card_auth)
        return holder + " card authentication";
    return holder + " " + std::string(role_name(role));
}

bool is_rsa(p11::KeyAlgorithm algorithm) {
    return p11::key_type_of(algorithm) == CKK_RSA;
}

Result<std::vector<PlannedKey>> plan_keys(const std::string& holder, p11::KeyAlgorithm key_type,
                                          std::optional<p11::KeyAlgorithm> encryption_type) {
    p11::KeyAlgorithm enc = encryption_type.value_or(
        key_type == p11::KeyAlgorithm::ed25519 ? p11::KeyAlgorithm::ec_p256 : key_type);
    if (enc == p11::KeyAlgorithm::ed25519)
        return Error("ed25519 keys can only sign; choose another --encryption-key-type");

    PlannedKey auth;
    auth.role = KeyRole::authentication;
    auth.algorithm = key_type;
    auth.usage.sign = true;
    auth.label = key_label(holder, KeyRole::authentication);

    PlannedKey encryption;
    encryption.role = KeyRole::encryption;
    encryption.algorithm = enc;
    encryption.usage.sign = true;  // only to sign its own certificate request
    encryption.usage.decrypt = is_rsa(enc);
    encryption.usage.derive = !is_rsa(enc);
    encryption.label = key_label(holder, KeyRole::encryption);
    return std::vector<PlannedKey>{auth, encryption};
}

PlannedKey card_auth_key(const std::string& holder) {
    PlannedKey key;
    key.role = KeyRole::card_auth;
    key.algorithm = p11::KeyAlgorithm::ec_p256;
    key.usage.sign = true;
    key.label = key_label(holder, KeyRole::card_auth);
    return key;
}

std::vector<MechanismNeed> mechanism_needs(const PlannedKey& key) {
    const std::string type(p11::key_algorithm_name(key.algorithm));
    const CK_ULONG bits = algorithm_bits(key.algorithm);
    std::vector<MechanismNeed> needs;
    needs.push_back({{p11::generation_mechanism(key.algorithm)},
                     CKF_GENERATE_KEY_PAIR,
                     bits,
                     "generate " + type + " key pairs"});
    switch (p11::key_type_of(key.algorithm)) {
        case CKK_RSA:
            needs.push_back({{CKM_RSA_PKCS}, CKF_SIGN, bits, "sign with " + type + " keys"});
            if (key.usage.decrypt) {
                needs.push_back({{CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS},
                                 CKF_DECRYPT,
                                 bits,
                                 "decrypt with " + type + " keys"});
            }
            break;
        case CKK_EC:
            needs.push_back({{CKM_ECDSA}, CKF_SIGN, bits, "sign with " + type + " keys"});
            if (key.usage.derive)
                needs.push_back(
                    {{CKM_ECDH1_DERIVE}, CKF_DERIVE, bits, "ECDH with " + type + " keys"});
            break;
        default:
            needs.push_back({{CKM_EDDSA}, CKF_SIGN, 0, "sign with " + type + " keys"});
            break;
    }
    return needs;
}

std::vector<std::string> unmet_needs(const p11::Module& module, CK_SLOT_ID slot,
                                     const std::vector<MechanismNeed>& needs) {
    std::vector<std::string> problems;
    auto list = module.mechanisms(slot);
    if (!list) {
        problems.push_back("the token's mechanism list cannot be read: " + list.error().message());
        return problems;
    }
    for (const MechanismNeed& need : needs) {
        bool met = false;
        std::string why;
        for (CK_MECHANISM_TYPE m : need.mechanisms) {
            if (std::find(list->begin(), list->end(), m) == list->end())
                continue;
            auto info = module.mechanism_info(slot, m);
            if (!info) {
                why = p11::mechanism_name(m) + ": " + info.error().message();
                continue;
            }
            if ((info->flags & need.flags) != need.flags) {
                why = p11::mechanism_name(m) + " is listed without the needed flag";
                continue;
            }
            const bool size_known = info->ulMaxKeySize != 0;
            if (need.bits != 0 && size_known &&
                (need.bits < info->ulMinKeySize || need.bits > info->ulMaxKeySize)) {
                why = p11::mechanism_name(m) + " supports " + std::to_string(info->ulMinKeySize) +
                      " to " + std::to_string(info->ulMaxKeySize) + " bits, not " +
                      std::to_string(need.bits);
                continue;
            }
            met = true;
            break;
        }
        if (!met) {
            problems.push_back(
                "cannot " + need.purpose + " (needs " + names_of(need.mechanisms) +
                (why.empty() ? std::string(", not in its mechanism list") : "; " + why) + ")");
        }
    }
    return problems;
}

std::vector<std::string> enrollable_key_types(const p11::Module& module, CK_SLOT_ID slot) {
    std::vector<std::string> types;
    for (p11::KeyAlgorithm alg : kAllAlgorithms) {
        auto plan = plan_keys("x", alg, std::nullopt);
        if (!plan)
            continue;
        std::vector<MechanismNeed> needs;
        for (const PlannedKey& key : *plan) {
            auto more = mechanism_needs(key);
            needs.insert(needs.end(), more.begin(), more.end());
        }
        if (unmet_needs(module, slot, needs).empty())
            types.emplace_back(p11::key_algorithm_name(alg));
    }
    return types;
}

}  // namespace attache::cli::admin
