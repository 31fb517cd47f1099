#pragma once

// The certificate authorities' certificates a token stores next to its keys (`attache cert
// import --chain` writes them with CKA_CERTIFICATE_CATEGORY 2): listed so that applications
// reading the card through attache-pkcs11.so can build a key's chain from the card alone.

#include <set>
#include <vector>

#include "agent/core/key_record.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"

namespace attache::agent {

// Certificates marked as authorities (category 2), and CA certificates (basic constraints)
// that belong to no key in `key_ids` when the token does not say their category.
Result<std::vector<AuthorityRecord>> scan_authorities(const p11::Session& session,
                                                      const std::set<Bytes>& key_ids);

// The certificate is a CA's (basicConstraints cA, or an old self-signed root).
bool is_ca_certificate(const Bytes& der);

}  // namespace attache::agent
