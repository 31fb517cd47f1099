#include "pkcs11/keygen.h"

#include <openssl/sha.h>

#include "pkcs11/public_key.h"

namespace attache::p11 {
namespace {

struct AlgorithmInfo {
    KeyAlgorithm algorithm;
    std::string_view name;
    CK_MECHANISM_TYPE mechanism;
    CK_KEY_TYPE key_type;
    CK_ULONG rsa_bits;
};

constexpr AlgorithmInfo kAlgorithms[] = {
    {KeyAlgorithm::rsa2048, "rsa-2048", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 2048},
    {KeyAlgorithm::rsa3072, "rsa-3072", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 3072},
    {KeyAlgorithm::rsa4096, "rsa-4096", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 4096},
    {KeyAlgorithm::ec_p256, "ec-p256", CKM_EC_KEY_PAIR_GEN, CKK_EC, 0},
    {KeyAlgorithm::ec_p384, "ec-p384", CKM_EC_KEY_PAIR_GEN, CKK_EC, 0},
    {KeyAlgorithm::ed25519, "ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, 0},
};

const AlgorithmInfo& info(KeyAlgorithm alg) {
    for (const auto& a : kAlgorithms) {
        if (a.algorithm == alg)
            return a;
    }
    return kAlgorithms[0];
}

}  // namespace

std::string_view key_algorithm_name(KeyAlgorithm alg) {
    return info(alg).name;
}

std::optional<KeyAlgorithm> key_algorithm_from_name(std::string_view name) {
    for (const auto& a : kAlgorithms) {
        if (a.name == name)
            return a.algorithm;
    }
    return std::nullopt;
}

CK_MECHANISM_TYPE generation_mechanism(KeyAlgorithm alg) {
    return info(alg).mechanism;
}
CK_KEY_TYPE key_type_of(KeyAlgorithm alg) {
    return info(alg).key_type;
}

Result<KeyPairHandles> generate_key_pair(Session& session, const KeyPairSpec& spec) {
    const AlgorithmInfo& alg = info(spec.algorithm);

    AttributeTemplate pub;
    pub.add_ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .add_ulong(CKA_KEY_TYPE, alg.key_type)
        .add_bool(CKA_TOKEN, spec.token)
        .add_bool(CKA_PRIVATE, false)
        .add_bool(CKA_MODIFIABLE, true)
        .add_bool(CKA_VERIFY, spec.usage.sign)
        .add_bool(CKA_VERIFY_RECOVER, false)
        .add_bool(CKA_ENCRYPT, spec.usage.decrypt)
        .add_bool(CKA_WRAP, false)
        .add_bool(CKA_DERIVE, false);
    AttributeTemplate priv;
    priv.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .add_ulong(CKA_KEY_TYPE, alg.key_type)
        .add_bool(CKA_TOKEN, spec.token)
        .add_bool(CKA_PRIVATE, true)
        .add_bool(CKA_MODIFIABLE, true)
        .add_bool(CKA_SENSITIVE, true)
        .add_bool(CKA_EXTRACTABLE, false)
        .add_bool(CKA_SIGN, spec.usage.sign)
        .add_bool(CKA_SIGN_RECOVER, false)
        .add_bool(CKA_DECRYPT, spec.usage.decrypt)
        .add_bool(CKA_UNWRAP, false)
        .add_bool(CKA_DERIVE, spec.usage.derive);
    if (spec.always_authenticate)
        priv.add_bool(CKA_ALWAYS_AUTHENTICATE, true);
    if (!spec.label.empty()) {
        pub.add_string(CKA_LABEL, spec.label);
        priv.add_string(CKA_LABEL, spec.label);
    }
    if (!spec.id.empty()) {
        pub.add_bytes(CKA_ID, spec.id);
        priv.add_bytes(CKA_ID, spec.id);
    }
    switch (spec.algorithm) {
        case KeyAlgorithm::rsa2048:
        case KeyAlgorithm::rsa3072:
        case KeyAlgorithm::rsa4096:
            pub.add_ulong(CKA_MODULUS_BITS, alg.rsa_bits)
                .add_bytes(CKA_PUBLIC_EXPONENT, Bytes{0x01, 0x00, 0x01});
            break;
        case KeyAlgorithm::ec_p256:
            pub.add_bytes(CKA_EC_PARAMS, ec_params_p256());
            break;
        case KeyAlgorithm::ec_p384:
            pub.add_bytes(CKA_EC_PARAMS, ec_params_p384());
            break;
        case KeyAlgorithm::ed25519:
            pub.add_bytes(CKA_EC_PARAMS, ec_params_ed25519());
            break;
    }

    CK_MECHANISM mechanism{alg.mechanism, nullptr, 0};
    KeyPairHandles handles;
    CK_RV rv = session.fn()->C_GenerateKeyPair(session.handle(), &mechanism, pub.data(), pub.size(),
                                               priv.data(), priv.size(), &handles.public_key,
                                               &handles.private_key);
    if (rv != CKR_OK) {
        return Error::pkcs11(rv, "C_GenerateKeyPair[" + std::string(alg.name) + "]", spec.label);
    }

    handles.id = spec.id;
    if (handles.id.empty()) {
        auto id = [&]() -> Result<Bytes> {
            ATTACHE_TRY(AttributeValues values,
                        session.read(handles.public_key, kPublicKeyAttributes));
            ATTACHE_TRY(Pkey key, public_key_from(values));
            ATTACHE_TRY(Bytes material, key_id_material(key.get()));
            Bytes digest(SHA_DIGEST_LENGTH);
            SHA1(material.data(), material.size(), digest.data());
            AttributeTemplate set_id;
            set_id.add_bytes(CKA_ID, digest);
            ATTACHE_CHECK(session.set_attributes(handles.public_key, set_id));
            ATTACHE_CHECK(session.set_attributes(handles.private_key, set_id));
            return digest;
        }();
        if (!id) {
            // Best effort: a half-made key pair must not stay behind.
            (void)session.destroy(handles.private_key);
            (void)session.destroy(handles.public_key);
            return std::move(id).error().context("setting the new key's CKA_ID");
        }
        handles.id = std::move(*id);
    }
    return handles;
}

}  // namespace attache::p11
