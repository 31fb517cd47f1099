#pragma once

// AES key unwrapping (RFC 3394 CKM_AES_KEY_WRAP, RFC 5649 CKM_AES_KEY_WRAP_PAD) with a
// secret key the module holds: the key an application derived by ECDH. NSS decrypts S/MIME
// sent to an EC certificate (CMS key agreement) by deriving the key-encryption key on the
// card's token and unwrapping the content key there; the derived key is already the
// application's (readable) value, so unwrapping in the module changes no trust boundary.

#include <p11-kit/pkcs11.h>

#include "pkcs11/bytes.h"

namespace attache::forwarding {

// CKR_OK with the unwrapped key in `out`; CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID,
// CKR_WRAPPING_KEY_SIZE_RANGE, CKR_WRAPPED_KEY_LEN_RANGE, CKR_WRAPPED_KEY_INVALID.
CK_RV aes_unwrap(const CK_MECHANISM& mechanism, const Bytes& kek, const uint8_t* wrapped,
                 size_t wrapped_len, Bytes& out);

}  // namespace attache::forwarding
