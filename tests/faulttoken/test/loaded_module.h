#pragma once

#include <p11-kit/pkcs11.h>

namespace attache::faulttoken::testing {

// dlopen handle of the fault-injecting module under test (loaded once, never unloaded).
void* faulttoken_library();

// The module's function list, from its C_GetFunctionList.
CK_FUNCTION_LIST* faulttoken_functions();

}  // namespace attache::faulttoken::testing
