#pragma once

// PKCS#10 certificate requests for keys on the card: built with OpenSSL, signed on the card by
// the key they are for (i2d_re_X509_REQ_tbs, C_Sign, X509_REQ_set0_signature) and verified
// before they are returned.
//
//   authentication key: keyUsage critical digitalSignature;
//                       extendedKeyUsage clientAuth, emailProtection
//   encryption key:     keyUsage critical keyEncipherment (RSA) or keyAgreement (EC);
//                       extendedKeyUsage emailProtection
//   both, with --email: subjectAltName email:ADDR

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>
#include <string_view>

#include "cli/admin/card_signature.h"
#include "cli/admin/key_plan.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"

namespace attache::cli::admin {

struct CsrContent {
    const X509_NAME* subject = nullptr;
    std::optional<std::string> email;
    KeyRole role = KeyRole::authentication;
};

// The request as PEM, signed by `sign` (which returns the X.509 form of the signature).
Result<std::string> make_signed_csr(const CardSigner& sign, EVP_PKEY* public_key,
                                    const CsrContent& content);
// Signed through PKCS#11 by the private key `private_key`.
Result<std::string> make_signed_csr(const p11::Session& session, CK_OBJECT_HANDLE private_key,
                                    EVP_PKEY* public_key, const CsrContent& content,
                                    std::string_view key_name);

// A plausible e-mail address for a SAN: one '@', something on both sides, printable ASCII.
bool plausible_email(std::string_view address);

}  // namespace attache::cli::admin
