#include "pkcs11/forwarding/key_unwrap.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>

namespace attache::forwarding {
namespace {

const EVP_CIPHER* wrap_cipher(CK_MECHANISM_TYPE mechanism, size_t kek_len) {
    const bool pad = mechanism == CKM_AES_KEY_WRAP_PAD;
    switch (kek_len) {
        case 16:
            return pad ? EVP_aes_128_wrap_pad() : EVP_aes_128_wrap();
        case 24:
            return pad ? EVP_aes_192_wrap_pad() : EVP_aes_192_wrap();
        case 32:
            return pad ? EVP_aes_256_wrap_pad() : EVP_aes_256_wrap();
        default:
            return nullptr;
    }
}

}  // namespace

CK_RV aes_unwrap(const CK_MECHANISM& mechanism, const Bytes& kek, const uint8_t* wrapped,
                 size_t wrapped_len, Bytes& out) {
    if (mechanism.mechanism != CKM_AES_KEY_WRAP && mechanism.mechanism != CKM_AES_KEY_WRAP_PAD)
        return CKR_MECHANISM_INVALID;
    // Only the default initial value (RFC 3394 2.2.3, RFC 5649 3): no parameter.
    if (mechanism.pParameter != nullptr && mechanism.ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    const EVP_CIPHER* cipher = wrap_cipher(mechanism.mechanism, kek.size());
    if (cipher == nullptr)
        return CKR_WRAPPING_KEY_SIZE_RANGE;
    if (wrapped_len < 16 || wrapped_len % 8 != 0 || wrapped_len > 4096)
        return CKR_WRAPPED_KEY_LEN_RANGE;
    std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)> ctx(EVP_CIPHER_CTX_new(),
                                                                   EVP_CIPHER_CTX_free);
    if (!ctx)
        return CKR_HOST_MEMORY;
    out.assign(wrapped_len, 0);
    int len = 0;
    int tail = 0;
    if (EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, kek.data(), nullptr) != 1 ||
        EVP_DecryptUpdate(ctx.get(), out.data(), &len, wrapped, static_cast<int>(wrapped_len)) !=
            1 ||
        EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &tail) != 1) {
        OPENSSL_cleanse(out.data(), out.size());
        out.clear();
        return CKR_WRAPPED_KEY_INVALID;
    }
    out.resize(static_cast<size_t>(len + tail));
    return CKR_OK;
}

}  // namespace attache::forwarding
