#pragma once

// Certificate objects: stores an X.509 certificate on the token next to its key.

#include <p11-kit/pkcs11.h>

#include <string>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"

namespace attache::p11 {

// Creates a token CKO_CERTIFICATE (CKC_X_509) with CKA_VALUE, CKA_SUBJECT, CKA_ISSUER and
// CKA_SERIAL_NUMBER taken from the DER certificate, and the given CKA_ID and label.
Result<CK_OBJECT_HANDLE> create_certificate(Session& session, const Bytes& der, const Bytes& id,
                                            const std::string& label);

}  // namespace attache::p11
