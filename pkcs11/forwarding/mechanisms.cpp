#include "pkcs11/forwarding/mechanisms.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace attache::forwarding {
namespace {

using protocol::KeyType;
using protocol::SignScheme;

struct Row {
    CK_MECHANISM_TYPE type;
    KeyType key;
    uint32_t operation;  // protocol::KeyOperation
};

constexpr Row kRows[] = {
    {CKM_RSA_PKCS, KeyType::rsa, protocol::kOpSign},
    {CKM_RSA_PKCS, KeyType::rsa, protocol::kOpDecrypt},
    {CKM_SHA1_RSA_PKCS, KeyType::rsa, protocol::kOpSign},
    {CKM_SHA256_RSA_PKCS, KeyType::rsa, protocol::kOpSign},
    {CKM_SHA384_RSA_PKCS, KeyType::rsa, protocol::kOpSign},
    {CKM_SHA512_RSA_PKCS, KeyType::rsa, protocol::kOpSign},
    {CKM_RSA_PKCS_PSS, KeyType::rsa, protocol::kOpSign},
    {CKM_SHA1_RSA_PKCS_PSS, KeyType::rsa, protocol::kOpSign},
    {CKM_SHA256_RSA_PKCS_PSS, KeyType::rsa, protocol::kOpSign},
    {CKM_SHA384_RSA_PKCS_PSS, KeyType::rsa, protocol::kOpSign},
    {CKM_SHA512_RSA_PKCS_PSS, KeyType::rsa, protocol::kOpSign},
    {CKM_RSA_PKCS_OAEP, KeyType::rsa, protocol::kOpDecrypt},
    {CKM_ECDSA, KeyType::ec, protocol::kOpSign},
    {CKM_ECDSA_SHA1, KeyType::ec, protocol::kOpSign},
    {CKM_ECDSA_SHA256, KeyType::ec, protocol::kOpSign},
    {CKM_ECDSA_SHA384, KeyType::ec, protocol::kOpSign},
    {CKM_ECDSA_SHA512, KeyType::ec, protocol::kOpSign},
    {CKM_ECDH1_DERIVE, KeyType::ec, protocol::kOpDerive},
    {CKM_EDDSA, KeyType::ed25519, protocol::kOpSign},
};

CK_FLAGS flags_for(uint32_t operation) {
    switch (operation) {
        case protocol::kOpSign:
            return CKF_SIGN | CKF_VERIFY;
        case protocol::kOpDecrypt:
            return CKF_DECRYPT;
        case protocol::kOpDerive:
            return CKF_DERIVE;
        default:
            return 0;
    }
}

// CKM_EDDSA's optional parameters (PKCS#11 3.0; not in p11-kit 0.24's header).
struct EddsaParams {
    CK_BBOOL ph_flag;
    CK_ULONG context_data_len;
    CK_BYTE_PTR context_data;
};

std::optional<p11::Hash> hash_suffix(CK_MECHANISM_TYPE m) {
    switch (m) {
        case CKM_SHA1_RSA_PKCS:
        case CKM_SHA1_RSA_PKCS_PSS:
        case CKM_ECDSA_SHA1:
            return p11::Hash::sha1;
        case CKM_SHA256_RSA_PKCS:
        case CKM_SHA256_RSA_PKCS_PSS:
        case CKM_ECDSA_SHA256:
            return p11::Hash::sha256;
        case CKM_SHA384_RSA_PKCS:
        case CKM_SHA384_RSA_PKCS_PSS:
        case CKM_ECDSA_SHA384:
            return p11::Hash::sha384;
        case CKM_SHA512_RSA_PKCS:
        case CKM_SHA512_RSA_PKCS_PSS:
        case CKM_ECDSA_SHA512:
            return p11::Hash::sha512;
        default:
            return std::nullopt;
    }
}

}  // namespace

std::vector<CK_MECHANISM_TYPE> mechanism_list(const std::vector<KeySummary>& keys) {
    std::vector<CK_MECHANISM_TYPE> out;
    for (const Row& row : kRows) {
        const bool usable = std::any_of(keys.begin(), keys.end(), [&](const KeySummary& k) {
            return k.type == row.key && (k.operations & row.operation);
        });
        if (usable && std::find(out.begin(), out.end(), row.type) == out.end())
            out.push_back(row.type);
    }
    return out;
}

bool mechanism_info(CK_MECHANISM_TYPE type, const std::vector<KeySummary>& keys,
                    CK_MECHANISM_INFO& info) {
    CK_FLAGS flags = 0;
    CK_ULONG min_bits = std::numeric_limits<CK_ULONG>::max();
    CK_ULONG max_bits = 0;
    for (const Row& row : kRows) {
        if (row.type != type)
            continue;
        for (const KeySummary& k : keys) {
            if (k.type != row.key || !(k.operations & row.operation))
                continue;
            flags |= flags_for(row.operation);
            min_bits = std::min<CK_ULONG>(min_bits, k.bits);
            max_bits = std::max<CK_ULONG>(max_bits, k.bits);
        }
    }
    if (flags == 0)
        return false;
    // The card does the private-key work.
    flags |= CKF_HW;
    if (type == CKM_ECDSA || type == CKM_ECDSA_SHA1 || type == CKM_ECDSA_SHA256 ||
        type == CKM_ECDSA_SHA384 || type == CKM_ECDSA_SHA512 || type == CKM_ECDH1_DERIVE) {
        flags |= CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
    }
    info.ulMinKeySize = min_bits;
    info.ulMaxKeySize = max_bits;
    info.flags = flags;
    return true;
}

CK_RV parse_sign_mechanism(const CK_MECHANISM& m, KeyType key_type, SignSpec& out) {
    out = SignSpec{};
    out.mechanism = m.mechanism;
    const auto suffix = hash_suffix(m.mechanism);
    KeyType wanted;
    switch (m.mechanism) {
        case CKM_RSA_PKCS:
            wanted = KeyType::rsa;
            out.scheme = SignScheme::rsa_pkcs1_raw;
            break;
        case CKM_SHA1_RSA_PKCS:
        case CKM_SHA256_RSA_PKCS:
        case CKM_SHA384_RSA_PKCS:
        case CKM_SHA512_RSA_PKCS:
            wanted = KeyType::rsa;
            out.scheme = SignScheme::rsa_pkcs1;
            break;
        case CKM_RSA_PKCS_PSS:
        case CKM_SHA1_RSA_PKCS_PSS:
        case CKM_SHA256_RSA_PKCS_PSS:
        case CKM_SHA384_RSA_PKCS_PSS:
        case CKM_SHA512_RSA_PKCS_PSS: {
            wanted = KeyType::rsa;
            out.scheme = SignScheme::rsa_pss;
            if (m.pParameter == nullptr || m.ulParameterLen != sizeof(CK_RSA_PKCS_PSS_PARAMS))
                return CKR_MECHANISM_PARAM_INVALID;
            CK_RSA_PKCS_PSS_PARAMS params;
            std::memcpy(&params, m.pParameter, sizeof params);
            const auto hash = p11::hash_from_mechanism(params.hashAlg);
            if (!hash || params.mgf != p11::mgf_for(*hash))
                return CKR_MECHANISM_PARAM_INVALID;
            if (suffix && *suffix != *hash)
                return CKR_MECHANISM_PARAM_INVALID;
            if (params.sLen > 1024)
                return CKR_MECHANISM_PARAM_INVALID;
            out.pss_salt = static_cast<uint32_t>(params.sLen);
            out.wire_hash = *hash;
            out.prehashed = true;
            break;
        }
        case CKM_ECDSA:
            wanted = KeyType::ec;
            out.scheme = SignScheme::ecdsa;
            break;
        case CKM_ECDSA_SHA1:
        case CKM_ECDSA_SHA256:
        case CKM_ECDSA_SHA384:
        case CKM_ECDSA_SHA512:
            wanted = KeyType::ec;
            out.scheme = SignScheme::ecdsa;
            break;
        case CKM_EDDSA: {
            wanted = KeyType::ed25519;
            out.scheme = SignScheme::eddsa;
            out.multi_part = true;
            if (m.pParameter != nullptr || m.ulParameterLen != 0) {
                if (m.pParameter == nullptr || m.ulParameterLen != sizeof(EddsaParams))
                    return CKR_MECHANISM_PARAM_INVALID;
                EddsaParams params;
                std::memcpy(&params, m.pParameter, sizeof params);
                // Ed25519ph and Ed25519ctx are not what the agent signs.
                if (params.ph_flag != CK_FALSE || params.context_data_len != 0)
                    return CKR_MECHANISM_PARAM_INVALID;
            }
            break;
        }
        default:
            return CKR_MECHANISM_INVALID;
    }
    if (m.mechanism != CKM_EDDSA && !(out.scheme == SignScheme::rsa_pss) &&
        (m.pParameter != nullptr && m.ulParameterLen != 0)) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (suffix) {
        out.module_hash = suffix;
        out.wire_hash = *suffix;
        out.prehashed = true;
        out.multi_part = true;
    }
    out.key_type = wanted;
    if (wanted != key_type)
        return CKR_KEY_TYPE_INCONSISTENT;
    return CKR_OK;
}

CK_RV parse_decrypt_mechanism(const CK_MECHANISM& m, KeyType key_type, DecryptSpec& out) {
    out = DecryptSpec{};
    out.mechanism = m.mechanism;
    switch (m.mechanism) {
        case CKM_RSA_PKCS:
            if (m.pParameter != nullptr && m.ulParameterLen != 0)
                return CKR_MECHANISM_PARAM_INVALID;
            out.scheme = protocol::DecryptScheme::rsa_pkcs1;
            break;
        case CKM_RSA_PKCS_OAEP: {
            if (m.pParameter == nullptr || m.ulParameterLen != sizeof(CK_RSA_PKCS_OAEP_PARAMS))
                return CKR_MECHANISM_PARAM_INVALID;
            CK_RSA_PKCS_OAEP_PARAMS params;
            std::memcpy(&params, m.pParameter, sizeof params);
            const auto hash = p11::hash_from_mechanism(params.hashAlg);
            if (!hash || params.mgf != p11::mgf_for(*hash))
                return CKR_MECHANISM_PARAM_INVALID;
            if (params.ulSourceDataLen > 0) {
                if (params.source != CKZ_DATA_SPECIFIED || params.pSourceData == nullptr ||
                    params.ulSourceDataLen > 4096) {
                    return CKR_MECHANISM_PARAM_INVALID;
                }
                const auto* p = static_cast<const uint8_t*>(params.pSourceData);
                out.oaep_label.assign(p, p + params.ulSourceDataLen);
            } else if (params.source != 0 && params.source != CKZ_DATA_SPECIFIED) {
                return CKR_MECHANISM_PARAM_INVALID;
            }
            out.scheme = protocol::DecryptScheme::rsa_oaep;
            out.oaep_hash = *hash;
            break;
        }
        default:
            return CKR_MECHANISM_INVALID;
    }
    if (key_type != KeyType::rsa)
        return CKR_KEY_TYPE_INCONSISTENT;
    return CKR_OK;
}

bool token_decrypts(uint32_t decrypt_support, const DecryptSpec& spec) {
    if (decrypt_support == 0)
        return true;
    if (spec.scheme == protocol::DecryptScheme::rsa_pkcs1)
        return decrypt_support & protocol::kDecryptPkcs1;
    uint32_t bit = 0;
    switch (spec.oaep_hash.value_or(p11::Hash::sha1)) {
        case p11::Hash::sha1:
            bit = protocol::kDecryptOaepSha1;
            break;
        case p11::Hash::sha256:
            bit = protocol::kDecryptOaepSha256;
            break;
        case p11::Hash::sha384:
            bit = protocol::kDecryptOaepSha384;
            break;
        case p11::Hash::sha512:
            bit = protocol::kDecryptOaepSha512;
            break;
    }
    return decrypt_support & bit;
}

}  // namespace attache::forwarding
