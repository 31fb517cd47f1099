#pragma once

// What a helper-backed module offers next to its CK_FUNCTION_LIST: an Init call and its
// single-part call in one round trip to the helper instead of two. The results are those of
// the two PKCS#11 calls made one after the other (the second only when the first returned
// CKR_OK; a size query or CKR_BUFFER_TOO_SMALL leaves the operation active, and a plain C_Sign
// or C_Decrypt completes it); `*stage` says which of the two the returned rv belongs to.
// In-process modules have none (Session::combined_calls() is null): a call there costs nothing.

#include <p11-kit/pkcs11.h>

#include "pkcs11/module_helper/wire/function_ids.h"

namespace attache::p11::module_helper {

class CombinedCalls {
  public:
    virtual ~CombinedCalls() = default;
    // C_SignInit, then C_Sign.
    virtual CK_RV sign_init_and_sign(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                                     CK_OBJECT_HANDLE key, CK_BYTE_PTR data, CK_ULONG length,
                                     CK_BYTE_PTR out, CK_ULONG_PTR out_length,
                                     CallStage* stage) const = 0;
    // C_DecryptInit, then C_Decrypt.
    virtual CK_RV decrypt_init_and_decrypt(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                                           CK_OBJECT_HANDLE key, CK_BYTE_PTR data, CK_ULONG length,
                                           CK_BYTE_PTR out, CK_ULONG_PTR out_length,
                                           CallStage* stage) const = 0;
};

}  // namespace attache::p11::module_helper
