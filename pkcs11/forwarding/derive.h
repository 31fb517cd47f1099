#pragma once

// CKM_ECDH1_DERIVE: the agent computes the raw shared secret on the card; the module applies
// the requested KDF (CKD_NULL or the ANSI X9.63 KDFs with SHA-1/224/256/384/512) and makes a
// session secret-key object of it in the application's view.

#include <p11-kit/pkcs11.h>

#include "pkcs11/bytes.h"
#include "pkcs11/forwarding/attribute_set.h"

namespace attache::forwarding {

struct EcdhSpec {
    Bytes peer_point;  // uncompressed, 2 * field_bytes + 1 octets
    CK_ULONG kdf = CKD_NULL;
    Bytes shared_data;
};

// CKR_OK, CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID.
CK_RV parse_ecdh_mechanism(const CK_MECHANISM& mechanism, size_t field_bytes, EcdhSpec& out);

struct DerivedKeyTemplate {
    CK_KEY_TYPE key_type = CKK_GENERIC_SECRET;
    size_t value_len = 0;     // 0: the whole secret (CKD_NULL) / required otherwise
    AttributeSet attributes;  // everything but CKA_VALUE and CKA_VALUE_LEN
};

// Checks the application's template. CKR_TEMPLATE_INCONSISTENT, CKR_ATTRIBUTE_VALUE_INVALID,
// CKR_ATTRIBUTE_TYPE_INVALID, CKR_TEMPLATE_INCOMPLETE.
CK_RV parse_derived_template(const CK_ATTRIBUTE* templ, CK_ULONG count, bool kdf,
                             DerivedKeyTemplate& out);

// The key value from the raw secret: CKD_NULL keeps the trailing value_len bytes (as SoftHSM2
// does), the KDFs produce value_len bytes. CKR_KEY_SIZE_RANGE / CKR_TEMPLATE_INCOMPLETE.
CK_RV derive_value(const EcdhSpec& spec, const Bytes& secret, size_t value_len, Bytes& out);

// The attributes of the secret-key object; its values are wiped when it is destroyed.
AttributeSet secret_key_attributes(const DerivedKeyTemplate& templ, Bytes value);

}  // namespace attache::forwarding
