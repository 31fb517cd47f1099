#pragma once

#include <p11-kit/pkcs11.h>

#include "tests/faulttoken/function_ids.h"

namespace attache::faulttoken {

// Whether an injected failure of the function with rv ends the session's active operation in
// PKCS#11 terms (every error of C_Encrypt, C_SignUpdate, C_DigestFinal... except
// CKR_BUFFER_TOO_SMALL does).
bool injected_failure_ends_operation(Fn function, CK_RV rv);

// Ends the real session's active operation of the function's kind (encrypt, decrypt, digest,
// sign or verify) by finishing it on dummy input into a scratch buffer, so that after an injected
// failure the caller can start a new operation, exactly as after a real failure.
void end_real_operation(const CK_FUNCTION_LIST& real, Fn function, CK_SESSION_HANDLE session);

}  // namespace attache::faulttoken
