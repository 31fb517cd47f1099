#pragma once

// The simulated user PIN retry counter (ControlBlock::max_pin_tries) and PIN pad
// (CKF_PROTECTED_AUTHENTICATION_PATH with ControlBlock::pinpad_pin), which SoftHSM2 lacks.

#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>

#include "tests/faulttoken/control_block.h"

namespace attache::faulttoken {

// Whether a C_Login of this user type is subject to the simulated retry counter.
bool counts_pin_tries(const ControlBlock& block, CK_USER_TYPE user_type);

// Token flags the simulated retry counter of the slot reports (CKF_USER_PIN_COUNT_LOW,
// CKF_USER_PIN_FINAL_TRY or CKF_USER_PIN_LOCKED); 0 when the simulation is off.
CK_FLAGS simulated_pin_flags(const ControlBlock& block, CK_SLOT_ID slot);

// Whether the simulated retry counter of the slot has run out.
bool simulated_pin_locked(const ControlBlock& block, CK_SLOT_ID slot);

// Counts a wrong PIN, or forgets the wrong ones, after the real C_Login returned rv.
void record_login_result(ControlBlock& block, CK_SLOT_ID slot, CK_RV rv);

// Forgets the wrong PINs of the slot (the SO has set a new user PIN).
void reset_wrong_pins(ControlBlock& block, CK_SLOT_ID slot);

// The PIN "typed on the PIN pad" for a C_Login without PIN: set only if the slot reports
// CKF_PROTECTED_AUTHENTICATION_PATH and the test has set a PIN pad PIN.
std::optional<std::string> pinpad_pin(const ControlBlock& block, CK_SLOT_ID slot);

}  // namespace attache::faulttoken
