#pragma once

// The card-authentication challenge: before the broker asks or sends a PIN for a card whose
// manifest lists a card-auth key (a PIV card's slot 9E, usable without the PIN), the card signs
// 32 fresh random bytes from the broker's own CSPRNG (OpenSSL's RAND_bytes, never the card's)
// with that key, and the signature is verified with OpenSSL against the public key whose
// SPKI SHA-256 the signed manifest lists. A token that copied the card's label, serial and
// public objects but not its private key fails here, and never sees the PIN.
//
// What it does not cover (docs/threat-model.md): a card whose manifest entry lists no card-auth
// key (SoftHSM2 tokens, cards enrolled before 9E was) gets no challenge; the check is of the
// card's key, so a relay of the genuine card's APDUs passes it.

#include <string>

#include "agent/core/token.h"
#include "pkcs11/result.h"

namespace attache::agent {

// Bytes of the challenge: as much as a SHA-256 digest, and never reused.
inline constexpr size_t kCardAuthChallengeBytes = 32;

// `spki_sha256`: the lower-case hex SHA-256 of the key's SubjectPublicKeyInfo, from the
// manifest. Error: why the card failed, starting "card-auth challenge failed".
Status card_auth_challenge(Token& token, const std::string& spki_sha256);

}  // namespace attache::agent
