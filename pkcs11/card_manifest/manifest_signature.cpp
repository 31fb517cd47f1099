#include "pkcs11/card_manifest/manifest_signature.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

#include "pkcs11/openssl_ptr.h"

namespace attache::manifest {
namespace {

using KeyPtr = EvpPkeyPtr;

std::string openssl_reason() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0)
        return "no reason given";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

BioPtr memory_bio(std::string_view pem) {
    return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Ed25519 signs the message itself; ECDSA P-256 signs its SHA-256. Other keys: refused.
Result<const EVP_MD*> digest_for(EVP_PKEY* key) {
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_ED25519:
            return static_cast<const EVP_MD*>(nullptr);
        case EVP_PKEY_EC:
            if (EVP_PKEY_get_bits(key) == 256)
                return EVP_sha256();
            break;
        default:
            break;
    }
    return Error("the manifest key must be Ed25519 or ECDSA P-256");
}

Result<Bytes> from_base64(std::string_view text) {
    std::string s;
    for (char c : text) {
        if (c != '\n' && c != '\r' && c != ' ')
            s += c;
    }
    if (s.empty() || s.size() % 4 != 0 || s.size() > 4096)
        return Error("the signature file is not one line of base64");
    Bytes out(s.size() / 4 * 3);
    const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()),
                                  static_cast<int>(s.size()));
    if (n < 0)
        return Error("the signature file is not one line of base64");
    size_t pad = 0;
    if (s.back() == '=')
        pad = s[s.size() - 2] == '=' ? 2 : 1;
    out.resize(static_cast<size_t>(n) - pad);
    return out;
}

}  // namespace

Result<std::string> sign_manifest(std::string_view data, std::string_view key_pem) {
    auto bio = memory_bio(key_pem);
    KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key)
        return Error("reading the manifest signing key: " + openssl_reason() +
                     " (expected a PEM private key without a passphrase)");
    ATTACHE_TRY(const EVP_MD* md, digest_for(key.get()));
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    size_t size = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &size, in, data.size()) != 1)
        return Error("signing the manifest: " + openssl_reason());
    Bytes sig(size);
    if (EVP_DigestSign(ctx.get(), sig.data(), &size, in, data.size()) != 1)
        return Error("signing the manifest: " + openssl_reason());
    sig.resize(size);
    std::string out(4 * ((sig.size() + 2) / 3), '\0');
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), sig.data(),
                    static_cast<int>(sig.size()));
    return out + "\n";
}

Status verify_manifest(std::string_view data, std::string_view signature_text,
                       std::string_view public_pem) {
    auto bio = memory_bio(public_pem);
    KeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!key)
        return Error("reading the manifest signer's public key: " + openssl_reason());
    ATTACHE_TRY(const EVP_MD* md, digest_for(key.get()));
    ATTACHE_TRY(Bytes sig, from_base64(signature_text));
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) != 1)
        return Error("verifying the manifest: " + openssl_reason());
    const int r =
        EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                         reinterpret_cast<const unsigned char*>(data.data()), data.size());
    ERR_clear_error();
    if (r != 1)
        return Error("the manifest's signature does not verify with the signer's public key");
    return ok();
}

Result<std::string> public_key_pem(std::string_view key_pem) {
    auto in = memory_bio(key_pem);
    KeyPtr key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
    if (!key)
        return Error("reading the manifest signing key: " + openssl_reason());
    ATTACHE_CHECK(digest_for(key.get()));
    BioPtr out(BIO_new(BIO_s_mem()));
    if (PEM_write_bio_PUBKEY(out.get(), key.get()) != 1)
        return Error("writing the public key: " + openssl_reason());
    char* p = nullptr;
    const long n = BIO_get_mem_data(out.get(), &p);
    return std::string(p, static_cast<size_t>(n));
}

}  // namespace attache::manifest
