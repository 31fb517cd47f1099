#include "tests/ssh/test_keys.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <utility>
#include <vector>

#include "pkcs11/operations.h"

namespace attache::ssh::testing {
namespace {

// nullptr for Ed25519, which signs the message itself.
const EVP_MD* md_of(std::optional<p11::Hash> hash) {
    return hash ? p11::evp_md(*hash) : nullptr;
}

size_t field_bytes(KeyType type) {
    switch (type) {
        case KeyType::kEcdsaP256:
            return 32;
        case KeyType::kEcdsaP384:
            return 48;
        case KeyType::kEcdsaP521:
            return 66;
        default:
            return 0;
    }
}

}  // namespace

p11::Pkey generate(KeyType type) {
    EVP_PKEY* key = nullptr;
    switch (type) {
        case KeyType::kRsa:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
            break;
        case KeyType::kEcdsaP256:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
            break;
        case KeyType::kEcdsaP384:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
            break;
        case KeyType::kEcdsaP521:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
            break;
        case KeyType::kEd25519:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
            break;
    }
    EXPECT_NE(key, nullptr);
    return p11::Pkey(key);
}

EVP_PKEY* key_for(KeyType type) {
    static std::vector<std::pair<KeyType, p11::Pkey>> cache;
    for (auto& [t, k] : cache) {
        if (t == type)
            return k.get();
    }
    cache.emplace_back(type, generate(type));
    return cache.back().second.get();
}

Bytes blob_for(KeyType type) {
    auto blob = public_key_blob(key_for(type));
    EXPECT_TRUE(blob) << blob.error().message();
    return blob ? *blob : Bytes{};
}

Bytes token_sign(EVP_PKEY* key, const SignPlan& plan, ByteView data) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, md_of(plan.hash), nullptr, key), 1);
    size_t length = 0;
    EXPECT_EQ(EVP_DigestSign(ctx, nullptr, &length, data.data(), data.size()), 1);
    Bytes sig(length);
    EXPECT_EQ(EVP_DigestSign(ctx, sig.data(), &length, data.data(), data.size()), 1);
    sig.resize(length);
    EVP_MD_CTX_free(ctx);
    if (field_bytes(plan.key_type) != 0) {
        auto raw = p11::ecdsa_der_to_raw(sig, field_bytes(plan.key_type));
        EXPECT_TRUE(raw) << raw.error().message();
        return raw ? *raw : Bytes{};
    }
    return sig;
}

Bytes ssh_signature(EVP_PKEY* key, std::uint32_t flags, ByteView data) {
    auto type = key_type_of(key);
    EXPECT_TRUE(type);
    auto plan = plan_signature(*type, flags, /*allow_ssh_rsa_sha1=*/true);
    EXPECT_TRUE(plan);
    auto blob = encode_signature(*plan, token_sign(key, *plan, data));
    EXPECT_TRUE(blob) << blob.error().message();
    return blob ? *blob : Bytes{};
}

Bytes x509_tbs(EVP_PKEY* key) {
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("Evil CA"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    // Signed once with a throwaway key so that the algorithm fields are set; the TBS part is
    // what an attacker would ask the agent to sign.
    EXPECT_GT(X509_sign(cert, key_for(KeyType::kEcdsaP256), EVP_sha256()), 0);
    unsigned char* der = nullptr;
    const int n = i2d_re_X509_tbs(cert, &der);
    EXPECT_GT(n, 0);
    Bytes out(der, der + (n > 0 ? n : 0));
    OPENSSL_free(der);
    X509_free(cert);
    return out;
}

}  // namespace attache::ssh::testing
