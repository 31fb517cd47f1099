#pragma once

#include <p11-kit/pkcs11.h>

#include <optional>

#include "tests/faulttoken/control_block.h"

namespace attache::faulttoken {

// Sleeps for the delay rules matching a call of the function about the slot (nullopt: a call
// about no slot, matched only by kAnySlot rules), and waits while a matching hang rule stands.
// A matching crash rule abort()s the process.
// Returns CKR_DEVICE_REMOVED if the token is removed during a hang, else nullopt.
std::optional<CK_RV> wait_for_delay_rules(const ControlBlock& block, Fn function,
                                          std::optional<CK_SLOT_ID> slot);

// Uses up one call of the first matching fail rule and returns its CK_RV; nullopt if none.
std::optional<CK_RV> take_fail_rule(ControlBlock& block, Fn function,
                                    std::optional<CK_SLOT_ID> slot);

}  // namespace attache::faulttoken
