#pragma once

// From a client's sign or decrypt request and the key it names to what the token is asked:
// the PKCS#11 mechanism, the bytes it operates on, and how the result is shaped. Pure
// functions: every check on the request happens here, before the token is touched.

#include <optional>

#include "agent/core/key_record.h"
#include "agent/core/operation.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/result.h"

namespace attache::agent {

struct SignPlan {
    p11::Mechanism mechanism{CKM_ECDSA};
    Bytes input;
    bool ecdsa_to_der = false;
    size_t output_size = 0;
};

struct DecryptPlan {
    p11::Mechanism mechanism{CKM_RSA_PKCS};
    size_t output_size = 0;
};

Result<SignPlan> plan_sign(const KeyRecord& key, const SignOperation& request);
Result<DecryptPlan> plan_decrypt(const KeyRecord& key, const DecryptOperation& request);
// Checks an ECDH peer point's shape for the key's curve.
Status check_peer_point(const KeyRecord& key, const Bytes& peer_point);

}  // namespace attache::agent
