#pragma once

// The hashes of the native protocol, computed here with OpenSSL (the module hashes
// CKM_SHAnnn_* input itself and sends the digest).

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <optional>
#include <span>

#include "agent/protocol/messages.h"
#include "pkcs11/bytes.h"
#include "pkcs11/mechanism.h"

namespace attache::forwarding {

using p11::Hash;

const EVP_MD* evp_md(Hash hash);
size_t digest_size(Hash hash);
CK_RSA_PKCS_MGF_TYPE mgf1_for(Hash hash);
Bytes digest_of(Hash hash, std::span<const uint8_t> data);

protocol::HashAlg wire_hash(Hash hash);
std::optional<Hash> from_wire(protocol::HashAlg hash);
// CKM_SHA_1, CKM_SHA256, ... (PSS and OAEP parameters name hashes by mechanism).
std::optional<Hash> hash_of_mechanism(CK_MECHANISM_TYPE hash_mechanism);

}  // namespace attache::forwarding
