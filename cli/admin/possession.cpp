#include "cli/admin/possession.h"

#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <memory>

#include "cli/admin/card_signature.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/operations.h"

namespace attache::cli::admin {
namespace {

using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

Bytes random_bytes(size_t n) {
    Bytes b(n);
    if (RAND_bytes(b.data(), static_cast<int>(n)) != 1)
        b.clear();
    return b;
}

Status by_signature(const p11::Session& session, CK_OBJECT_HANDLE key, EVP_PKEY* pub,
                    const std::string& name) {
    ATTACHE_TRY(CardSignatureAlgorithm algorithm, card_signature_algorithm(pub));
    const Bytes challenge = random_bytes(32);
    if (challenge.empty())
        return Error("no random bytes for a challenge");
    auto signature = sign_on_card(session, key, algorithm, challenge, name);
    if (!signature)
        return Error("it cannot sign a challenge: " + signature.error().message());
    if (!signature_verifies(pub, algorithm, challenge, *signature))
        return Error(
            "its signature on a challenge does not verify with the recorded public key: "
            "the private key is not the recorded one");
    return {};
}

Status by_decryption(const p11::Session& session, CK_OBJECT_HANDLE key, EVP_PKEY* pub,
                     const std::string& name) {
    const Bytes secret = random_bytes(32);
    PkeyCtx ctx(EVP_PKEY_CTX_new(pub, nullptr), EVP_PKEY_CTX_free);
    size_t len = 0;
    if (secret.empty() || !ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_encrypt(ctx.get(), nullptr, &len, secret.data(), secret.size()) != 1)
        return Error("cannot encrypt a challenge to this key");
    Bytes ciphertext(len);
    if (EVP_PKEY_encrypt(ctx.get(), ciphertext.data(), &len, secret.data(), secret.size()) != 1)
        return Error("cannot encrypt a challenge to this key");
    ciphertext.resize(len);
    auto plain = p11::decrypt(session, key, p11::Mechanism(CKM_RSA_PKCS), ciphertext, name);
    if (!plain)
        return Error("it cannot decrypt a challenge: " + plain.error().message());
    if (*plain != secret)
        return Error(
            "a challenge encrypted to the recorded public key does not decrypt to itself: "
            "the private key is not the recorded one");
    return {};
}

Status by_ecdh(const p11::Session& session, CK_OBJECT_HANDLE key, EVP_PKEY* pub,
               const std::string& name) {
    PkeyCtx gen(EVP_PKEY_CTX_new(pub, nullptr), EVP_PKEY_CTX_free);
    EVP_PKEY* raw = nullptr;
    if (!gen || EVP_PKEY_keygen_init(gen.get()) != 1 || EVP_PKEY_keygen(gen.get(), &raw) != 1)
        return Error("cannot make an ephemeral key for this curve");
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ephemeral(raw, EVP_PKEY_free);
    Bytes point(200);
    size_t point_len = 0;
    if (EVP_PKEY_get_octet_string_param(ephemeral.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                        point.data(), point.size(), &point_len) != 1)
        return Error("cannot encode the ephemeral key");
    point.resize(point_len);

    PkeyCtx derive(EVP_PKEY_CTX_new(ephemeral.get(), nullptr), EVP_PKEY_CTX_free);
    size_t secret_len = 0;
    if (!derive || EVP_PKEY_derive_init(derive.get()) != 1 ||
        EVP_PKEY_derive_set_peer(derive.get(), pub) != 1 ||
        EVP_PKEY_derive(derive.get(), nullptr, &secret_len) != 1)
        return Error("cannot compute the expected ECDH secret");
    Bytes expected(secret_len);
    if (EVP_PKEY_derive(derive.get(), expected.data(), &secret_len) != 1)
        return Error("cannot compute the expected ECDH secret");
    expected.resize(secret_len);

    auto shared = p11::derive_ecdh(session, key, point, expected.size(), name);
    if (!shared)
        return Error("it cannot derive an ECDH secret: " + shared.error().message());
    if (*shared != expected)
        return Error(
            "its ECDH secret with an ephemeral key is not the one the recorded public key "
            "gives: the private key is not the recorded one");
    return {};
}

}  // namespace

Status prove_possession(const p11::Session& session, CK_OBJECT_HANDLE private_key,
                        EVP_PKEY* public_key, const p11::AttributeValues& attributes,
                        const std::string& key_name) {
    if (attributes.flag(CKA_SIGN))
        return by_signature(session, private_key, public_key, key_name);
    if (attributes.flag(CKA_DECRYPT) && EVP_PKEY_is_a(public_key, "RSA"))
        return by_decryption(session, private_key, public_key, key_name);
    if (attributes.flag(CKA_DERIVE) && EVP_PKEY_is_a(public_key, "EC"))
        return by_ecdh(session, private_key, public_key, key_name);
    return Error("the card allows it no operation that could prove it is the recorded key");
}

}  // namespace attache::cli::admin
