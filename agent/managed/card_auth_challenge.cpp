#include "agent/managed/card_auth_challenge.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "pkcs11/openssl_ptr.h"
#include "pkcs11/operations.h"
#include "pkcs11/public_key.h"

namespace attache::agent {
namespace {

std::string sha256_hex(const Bytes& data) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(data.data(), data.size(), digest);
    return hex(digest, sizeof digest);
}

// Whether `signature` (DER) over `digest` is the key's (`spki`, whose hash the manifest lists).
bool verifies(const Bytes& spki, std::span<const uint8_t> digest, const Bytes& signature) {
    auto key = p11::pkey_from_spki(spki);
    if (!key)
        return false;
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(key->get(), nullptr));
    const bool good = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
                      EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(),
                                      digest.size()) == 1;
    ERR_clear_error();
    return good;
}

}  // namespace

Status card_auth_challenge(Token& token, const std::string& spki_sha256) {
    auto failed = [&](const std::string& why) {
        return Error("card-auth challenge failed: the card " + token.display_name() +
                     " is not the enrolled one (" + why +
                     "); its PIN was neither asked for nor sent to it. If it is your card, tell "
                     "your administrator");
    };
    // The public key the card shows before login and the manifest lists, by its exact bytes.
    std::shared_ptr<const KeyRecord> key;
    for (const auto& k : token.keys()) {
        if (!k->spki.empty() && sha256_hex(k->spki) == spki_sha256)
            key = k;
    }
    if (!key)
        return failed(
            "it shows no card-authentication key with the public key the card "
            "manifest lists");
    if (key->type != protocol::KeyType::ec || key->bits == 0)
        return failed("its card-authentication key is not an EC key");

    unsigned char challenge[kCardAuthChallengeBytes];
    if (RAND_bytes(challenge, sizeof challenge) != 1)
        return Error("card-auth challenge failed: no random bytes for the challenge");
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(challenge, sizeof challenge, digest);

    auto raw = token.sign_without_login(key->cka_id, digest, key->signature_size());
    if (!raw)
        return failed("its card-authentication key did not sign the challenge without the PIN: " +
                      raw.error().message());
    auto der = p11::ecdsa_raw_to_der(*raw);
    if (!der || !verifies(key->spki, digest, *der))
        return failed(
            "its signature over a fresh challenge does not verify with the enrolled "
            "card-authentication key");
    return ok();
}

}  // namespace attache::agent
