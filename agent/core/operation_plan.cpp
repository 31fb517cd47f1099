#include "agent/core/operation_plan.h"

#include "agent/core/agent_error.h"

namespace attache::agent {
namespace {

using protocol::KeyType;
using protocol::SignScheme;

Error refuse(const std::string& why) {
    return agent_error(ErrorCode::bad_request, why);
}

// The digest to sign: the client's (checked for length) or ours.
Result<Bytes> digest_input(const SignOperation& r, p11::Hash hash) {
    if (r.prehashed) {
        if (r.data.size() != p11::hash_size(hash)) {
            return refuse("a " + std::string(p11::hash_name(hash)) + " digest is " +
                          std::to_string(p11::hash_size(hash)) + " bytes, got " +
                          std::to_string(r.data.size()));
        }
        return r.data;
    }
    return p11::digest(hash, r.data);
}

}  // namespace

Result<SignPlan> plan_sign(const KeyRecord& key, const SignOperation& r) {
    SignPlan plan;
    plan.output_size = key.signature_size();
    const std::optional<p11::Hash> hash = r.hash;
    switch (r.scheme) {
        case SignScheme::rsa_pkcs1:
        case SignScheme::rsa_pss: {
            if (key.type != KeyType::rsa)
                return refuse("RSA signature asked of a non-RSA key");
            if (!hash)
                return refuse("RSA signatures need a hash algorithm");
            ATTACHE_TRY(Bytes digest, digest_input(r, *hash));
            if (r.scheme == SignScheme::rsa_pkcs1) {
                plan.mechanism = p11::Mechanism(CKM_RSA_PKCS);
                plan.input = p11::digest_info(*hash, digest);
            } else {
                if (r.pss_salt_length > key.field_bytes())
                    return refuse("PSS salt too long");
                plan.mechanism =
                    p11::Mechanism::rsa_pss(CKM_RSA_PKCS_PSS, *hash, r.pss_salt_length);
                plan.input = std::move(digest);
            }
            return plan;
        }
        case SignScheme::rsa_pkcs1_raw: {
            if (key.type != KeyType::rsa)
                return refuse("RSA signature asked of a non-RSA key");
            if (r.data.empty() || r.data.size() + 11 > key.field_bytes()) {
                return refuse("raw PKCS#1 input must be 1 to modulus size - 11 bytes");
            }
            plan.mechanism = p11::Mechanism(CKM_RSA_PKCS);
            plan.input = r.data;
            return plan;
        }
        case SignScheme::ecdsa: {
            if (key.type != KeyType::ec)
                return refuse("ECDSA signature asked of a non-EC key");
            if (hash) {
                ATTACHE_TRY(plan.input, digest_input(r, *hash));
            } else {
                if (r.data.empty() || r.data.size() > 64) {
                    return refuse("ECDSA input without a hash must be 1 to 64 bytes");
                }
                plan.input = r.data;
            }
            plan.mechanism = p11::Mechanism(CKM_ECDSA);
            plan.ecdsa_to_der = r.ecdsa_der;
            return plan;
        }
        case SignScheme::eddsa: {
            if (key.type != KeyType::ed25519)
                return refuse("EdDSA asked of a non-Ed25519 key");
            if (hash || r.prehashed)
                return refuse("EdDSA signs the message itself, not a hash");
            plan.mechanism = p11::Mechanism(CKM_EDDSA);
            plan.input = r.data;
            return plan;
        }
    }
    return refuse("unknown signature scheme");
}

Result<DecryptPlan> plan_decrypt(const KeyRecord& key, const DecryptOperation& r) {
    if (key.type != KeyType::rsa)
        return refuse("decryption needs an RSA key");
    if (r.data.size() != key.field_bytes()) {
        return refuse("ciphertext of " + std::to_string(r.data.size()) + " bytes for a " +
                      std::to_string(key.bits) + "-bit key");
    }
    DecryptPlan plan;
    plan.output_size = key.field_bytes();
    if (r.scheme == protocol::DecryptScheme::rsa_oaep) {
        const std::optional<p11::Hash> hash = r.oaep_hash;
        if (!hash)
            return refuse("RSA-OAEP needs a hash algorithm");
        plan.mechanism = p11::Mechanism::rsa_oaep(*hash, r.oaep_label);
    } else {
        if (!r.oaep_label.empty())
            return refuse("a label only goes with RSA-OAEP");
        plan.mechanism = p11::Mechanism(CKM_RSA_PKCS);
    }
    return plan;
}

Status check_peer_point(const KeyRecord& key, const Bytes& peer_point) {
    if (key.type != KeyType::ec)
        return refuse("ECDH needs an EC key");
    const size_t f = key.field_bytes();
    if (peer_point.size() != 2 * f + 1 || peer_point[0] != 0x04) {
        return refuse("the peer point must be an uncompressed point on the key's curve (" +
                      std::to_string(2 * f + 1) + " bytes starting with 0x04)");
    }
    return ok();
}

}  // namespace attache::agent
