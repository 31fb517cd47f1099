#pragma once

// Which RSA decryptions a token performs, asked of the token itself once per key: its
// mechanism list (C_GetMechanismList, C_GetMechanismInfo with CKF_DECRYPT) for PKCS#1 v1.5
// and OAEP, and for each OAEP hash a C_DecryptInit in a session of its own that is closed
// right after (which ends the operation; nothing is decrypted, nothing reaches the card's key,
// no PIN is asked). PKCS#11 has no list of OAEP hashes, and tokens differ: SoftHSM2 2.6 does
// OAEP with SHA-1 only and refuses the others at C_DecryptInit. attache-pkcs11.so answers an
// application's C_DecryptInit from the result (no decryption round trip, audit line or
// confirmation dialog for a question about the token).

#include <p11-kit/pkcs11.h>

#include <cstdint>

#include "pkcs11/module.h"

namespace attache::agent {

// protocol::DecryptSupport mask for the private key `key` (the token logged in).
uint32_t probe_decrypt_support(const p11::Module& module, CK_SLOT_ID slot, CK_OBJECT_HANDLE key);

}  // namespace attache::agent
