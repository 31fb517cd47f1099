#pragma once

#include "tests/faulttoken/control_block.h"

namespace attache::faulttoken {

// Environment variable naming the control file; unset means plain pass-through.
inline constexpr const char* kControlVariable = "ATTACHE_FAULT_CONTROL";

// Makes the control file named by ATTACHE_FAULT_CONTROL the current one (none if unset). A file
// stays mapped for the life of the process, so block pointers never dangle. Throws
// RvError{CKR_GENERAL_ERROR} if the file is missing or not a control file.
void attach_control_from_environment();

// The current control block, or nullptr for plain pass-through.
ControlBlock* current_control();

}  // namespace attache::faulttoken
