#pragma once

// The module's process-wide state: the initialised Module (or none), the slot registry, and
// what fork() does to them. Nothing here has a destructor that runs at exit: the state lives
// on the heap and is reached through an atomic pointer.

#include <p11-kit/pkcs11.h>

#include <memory>

#include "pkcs11/forwarding/module.h"

namespace attache::forwarding {

CK_RV initialize(CK_VOID_PTR init_args);
CK_RV finalize(CK_VOID_PTR reserved);
// The initialised module, or null (CKR_CRYPTOKI_NOT_INITIALIZED).
std::shared_ptr<Module> current_module();

}  // namespace attache::forwarding
