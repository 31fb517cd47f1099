#pragma once

#include <p11-kit/pkcs11.h>

namespace attache::faulttoken {

// Environment variable naming the wrapped module, and its default.
inline constexpr const char* kRealModuleVariable = "ATTACHE_FAULT_MODULE";
inline constexpr const char* kDefaultRealModule = "/usr/lib/softhsm/libsofthsm2.so";

// Loads the wrapped module on first use (it is never unloaded) and returns its functions.
// Throws RvError{CKR_GENERAL_ERROR} if it cannot be loaded.
const CK_FUNCTION_LIST& load_real_module();

// The wrapped module's functions; throws RvError{CKR_CRYPTOKI_NOT_INITIALIZED} before the first
// successful load_real_module().
const CK_FUNCTION_LIST& real_module();

}  // namespace attache::faulttoken
