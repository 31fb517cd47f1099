#pragma once

// The certificate of a PIV card's card-authentication key (slot 9E), which `attache enrol`
// writes itself: OpenSC shows a PIV key only when its slot holds a certificate, and no CA is
// asked for this one. Self-signed, by the 9E key on the card (GENERAL AUTHENTICATE needs no PIN
// for 9E), subject and issuer the enrolment's subject, keyUsage critical digitalSignature,
// basicConstraints CA:FALSE. What makes the key trusted is not this certificate but the
// inventory and the signed card manifest, which record its SPKI SHA-256 (docs/threat-model.md).

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>

#include "cli/admin/card_signature.h"
#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::cli::admin {

// How long the certificate is valid from `now`: as long as a card is used.
inline constexpr long kCardAuthCertificateDays = 20 * 365;

// The certificate (DER), signed by `sign` (the card's 9E key), checked with `public_key` before
// it is returned.
Result<Bytes> make_card_auth_certificate(const CardSigner& sign, EVP_PKEY* public_key,
                                         const X509_NAME* subject, std::time_t now);

}  // namespace attache::cli::admin
