#pragma once

// Detached signatures over a manifest's bytes with the admin's key: Ed25519, or ECDSA P-256
// with SHA-256. The signature file holds one line of base64.

#include <string>
#include <string_view>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::manifest {

// Signs `data` with the PEM private key in `key_pem` (PKCS#8 or traditional). Returns the
// base64 line (with a newline) to write to FILE.sig.
Result<std::string> sign_manifest(std::string_view data, std::string_view key_pem);

// Verifies the base64 signature `signature_text` over `data` with the PEM public key
// (SubjectPublicKeyInfo) in `public_pem`. Error: why it does not verify.
Status verify_manifest(std::string_view data, std::string_view signature_text,
                       std::string_view public_pem);

// The PEM public key of a PEM private key (what the admin copies to the workstations).
Result<std::string> public_key_pem(std::string_view key_pem);

}  // namespace attache::manifest
