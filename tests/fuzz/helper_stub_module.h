#pragma once

// A PKCS#11 function list for the helper call fuzzer: no token, but every function the helper
// serves answers as a module would (size queries, CKR_BUFFER_TOO_SMALL, filled outputs), and
// reads every byte of its inputs (templates, nested templates, mechanism parameters), so that
// a decoder handing a module a bad pointer or length shows up under ASan.

#include <p11-kit/pkcs11.h>

namespace attache::fuzz {

CK_FUNCTION_LIST* stub_module();

}  // namespace attache::fuzz
