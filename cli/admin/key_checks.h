#pragma once

// The attributes that make a private key provably card-born and card-bound, read back from the
// token rather than trusted from the generation template:
//   CKA_LOCAL             generated on the card (not imported)
//   CKA_ALWAYS_SENSITIVE  never readable in clear
//   CKA_NEVER_EXTRACTABLE never exportable, even wrapped
//   CKA_SENSITIVE true, CKA_EXTRACTABLE false: and cannot be from now on

#include <p11-kit/pkcs11.h>

#include <string>
#include <vector>

#include "pkcs11/attribute_values.h"
#include "pkcs11/keygen.h"
#include "pkcs11/result.h"
#include "pkcs11/session.h"

namespace attache::cli::admin {

// The attributes provenance_problems() and usage_problems() read.
inline constexpr CK_ATTRIBUTE_TYPE kPrivateKeyChecks[] = {
    CKA_TOKEN,     CKA_PRIVATE,     CKA_LOCAL, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE,
    CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_SIGN,  CKA_DECRYPT,           CKA_DERIVE,
    CKA_UNWRAP,    CKA_SIGN_RECOVER};

Result<p11::AttributeValues> read_private_key_checks(const p11::Session& session,
                                                     CK_OBJECT_HANDLE private_key);

// "CKA_LOCAL is false", "CKA_NEVER_EXTRACTABLE is not reported", ... (empty: all as required).
// `without_login`: a key meant to be usable without the PIN (a PIV card's card-auth key, 9E),
// whose CKA_PRIVATE must then be false.
std::vector<std::string> provenance_problems(const p11::AttributeValues& values,
                                             bool without_login = false);
// Usages other than exactly the intended ones.
std::vector<std::string> usage_problems(const p11::AttributeValues& values,
                                        const p11::KeyUsage& usage);

std::string join(const std::vector<std::string>& items, const std::string& separator = "; ");

}  // namespace attache::cli::admin
