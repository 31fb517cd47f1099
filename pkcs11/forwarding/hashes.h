#pragma once

// The module's hashes are pkcs11/mechanism.h's, the same type the native protocol carries: the
// module hashes CKM_SHAnnn_* input itself with digest() and sends the digest.

#include "pkcs11/mechanism.h"

namespace attache::forwarding {

using p11::Hash;

}  // namespace attache::forwarding
