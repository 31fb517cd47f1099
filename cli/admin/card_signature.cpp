#include "cli/admin/card_signature.h"

#include <openssl/obj_mac.h>

#include <memory>

#include "pkcs11/mechanism.h"
#include "pkcs11/operations.h"

namespace attache::cli::admin {

Result<CardSignatureAlgorithm> card_signature_algorithm(EVP_PKEY* public_key) {
    CardSignatureAlgorithm a;
    switch (EVP_PKEY_get_id(public_key)) {
        case EVP_PKEY_RSA:
            a.signature_nid = NID_sha256WithRSAEncryption;
            a.null_parameters = true;
            a.hash = p11::Hash::sha256;
            a.mechanism = CKM_RSA_PKCS;
            return a;
        case EVP_PKEY_EC: {
            const int bits = EVP_PKEY_get_bits(public_key);
            a.hash = bits > 256 ? p11::Hash::sha384 : p11::Hash::sha256;
            a.signature_nid = bits > 256 ? NID_ecdsa_with_SHA384 : NID_ecdsa_with_SHA256;
            a.mechanism = CKM_ECDSA;
            return a;
        }
        case EVP_PKEY_ED25519:
            a.signature_nid = NID_ED25519;
            a.mechanism = CKM_EDDSA;
            return a;
        default:
            return Error("no signature algorithm for this key type");
    }
}

Result<Bytes> sign_on_card(const p11::Session& session, CK_OBJECT_HANDLE private_key,
                           const CardSignatureAlgorithm& algorithm,
                           std::span<const uint8_t> message, std::string_view key_name) {
    Bytes input(message.begin(), message.end());
    if (algorithm.hash) {
        input = p11::digest(*algorithm.hash, message);
        if (algorithm.mechanism == CKM_RSA_PKCS)
            input = p11::digest_info(*algorithm.hash, input);
    }
    ATTACHE_TRY(Bytes signature, p11::sign(session, private_key,
                                           p11::Mechanism(algorithm.mechanism), input, key_name));
    if (algorithm.mechanism == CKM_ECDSA)
        return p11::ecdsa_raw_to_der(signature);
    return signature;
}

bool signature_verifies(EVP_PKEY* public_key, const CardSignatureAlgorithm& algorithm,
                        std::span<const uint8_t> message, std::span<const uint8_t> signature) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const EVP_MD* md = algorithm.hash ? p11::evp_md(*algorithm.hash) : nullptr;
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, public_key) != 1)
        return false;
    return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                            message.size()) == 1;
}

}  // namespace attache::cli::admin
