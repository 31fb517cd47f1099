#pragma once

// The hashes as the native protocol names them. (The module hashes CKM_SHAnnn_* input itself
// with pkcs11/mechanism.h's digest() and sends the digest.)

#include <p11-kit/pkcs11.h>

#include <optional>
#include <span>

#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/bytes.h"
#include "pkcs11/mechanism.h"

namespace attache::forwarding {

using p11::Hash;

protocol::HashAlg wire_hash(Hash hash);
std::optional<Hash> from_wire(protocol::HashAlg hash);

}  // namespace attache::forwarding
