#pragma once

// A CK_MECHANISM on the wire: its type, then its parameters by kind. Parameter blocks that
// hold pointers travel field by field (RSA-PSS, RSA-OAEP with its label, ECDH1 derive with its
// shared data and public point); any other parameter travels as its bytes, which is right for
// the pointer-free ones (IVs, CK_ULONG lengths) that other mechanisms take. A pointer-holding
// block of the wrong size is refused (CKR_MECHANISM_PARAM_INVALID on the client).

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <variant>

#include "pkcs11/module_helper/wire/field_reader.h"
#include "pkcs11/module_helper/wire/field_writer.h"

namespace attache::p11::module_helper {

enum class ParamKind : CK_ULONG { none = 0, raw = 1, pss = 2, oaep = 3, ecdh1 = 4 };

// Which kind a mechanism type's parameter is.
ParamKind param_kind(CK_MECHANISM_TYPE type, const void* parameter);

// False (writer untouched beyond what it wrote) when the parameter block does not fit its
// kind: the caller answers CKR_MECHANISM_PARAM_INVALID.
bool write_mechanism(FieldWriter& w, const CK_MECHANISM* mechanism);

// A mechanism decoded in the helper; pointers go into the frame's bytes or into this object,
// which must therefore stay where it is.
struct DecodedMechanism {
    DecodedMechanism() = default;
    DecodedMechanism(const DecodedMechanism&) = delete;
    DecodedMechanism& operator=(const DecodedMechanism&) = delete;

    CK_MECHANISM mechanism{};
    std::variant<std::monostate, CK_RSA_PKCS_PSS_PARAMS, CK_RSA_PKCS_OAEP_PARAMS,
                 CK_ECDH1_DERIVE_PARAMS>
        params;
};

void read_mechanism(FieldReader& r, DecodedMechanism& out);

}  // namespace attache::p11::module_helper
