#pragma once

// The mechanisms the module offers and how each maps onto the agent's native protocol.
//
//   CKM_RSA_PKCS                    sign: rsa_pkcs1_raw (the caller's DigestInfo); decrypt:
//   rsa_pkcs1 CKM_SHAnnn_RSA_PKCS             rsa_pkcs1, hashed in the module, sent prehashed
//   CKM_RSA_PKCS_PSS (+params)      rsa_pss over the caller's digest
//   CKM_SHAnnn_RSA_PKCS_PSS         rsa_pss, hashed in the module
//   CKM_RSA_PKCS_OAEP (+params)     decrypt: rsa_oaep with its hash and label
//   CKM_ECDSA                       ecdsa, hash none: the caller's digest, raw r||s back
//   CKM_ECDSA_SHAnnn                ecdsa, hashed in the module
//   CKM_EDDSA                       eddsa over the message (multi-part: buffered up to a cap)
//   CKM_ECDH1_DERIVE                derive: the raw shared secret; KDFs applied in the module
//
// nnn: SHA-1, SHA-256, SHA-384, SHA-512 (the hashes of the protocol).

#include <p11-kit/pkcs11.h>

#include <optional>
#include <vector>

#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/bytes.h"
#include "pkcs11/forwarding/hashes.h"

namespace attache::forwarding {

// What the keys of one token allow: the mechanism list is derived from it.
struct KeySummary {
    protocol::KeyType type = protocol::KeyType::ec;
    uint32_t bits = 0;
    uint32_t operations = 0;
};

std::vector<CK_MECHANISM_TYPE> mechanism_list(const std::vector<KeySummary>& keys);
// False when the mechanism is not in mechanism_list(keys).
bool mechanism_info(CK_MECHANISM_TYPE type, const std::vector<KeySummary>& keys,
                    CK_MECHANISM_INFO& info);

struct SignSpec {
    CK_MECHANISM_TYPE mechanism = 0;
    protocol::KeyType key_type = protocol::KeyType::ec;
    protocol::SignScheme scheme = protocol::SignScheme::ecdsa;
    // The hash the module computes over the data (CKM_SHAnnn_*), if any.
    std::optional<p11::Hash> module_hash;
    // The hash named in the request: the module's, or PSS's parameter, or none.
    std::optional<p11::Hash> wire_hash;  // the hash the agent is told; nullopt: none
    bool prehashed = false;
    uint32_t pss_salt = 0;
    bool multi_part = false;  // C_SignUpdate allowed
};

// CKR_OK, CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID, CKR_KEY_TYPE_INCONSISTENT.
CK_RV parse_sign_mechanism(const CK_MECHANISM& mechanism, protocol::KeyType key_type,
                           SignSpec& out);

struct DecryptSpec {
    CK_MECHANISM_TYPE mechanism = 0;
    protocol::DecryptScheme scheme = protocol::DecryptScheme::rsa_pkcs1;
    std::optional<p11::Hash> oaep_hash = p11::Hash::sha1;
    Bytes oaep_label;
};

CK_RV parse_decrypt_mechanism(const CK_MECHANISM& mechanism, protocol::KeyType key_type,
                              DecryptSpec& out);

// The token does this decryption, by the agent's protocol::DecryptSupport mask for the key
// (0: not known, e.g. a version 1 agent; then C_Decrypt tells).
bool token_decrypts(uint32_t decrypt_support, const DecryptSpec& spec);

}  // namespace attache::forwarding
