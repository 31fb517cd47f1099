#pragma once

// Queries and lookups on the per-slot part of the control block, shared by the module and the
// FaultControl client. A query about a slot combines the slot's own state with the kAnySlot one.

#include <cstdint>
#include <string>

#include "tests/faulttoken/control_block.h"

namespace attache::faulttoken {

// The state recorded for exactly this slot id (kAnySlot included), or nullptr if none.
const SlotState* find_slot_state(const ControlBlock& block, CK_SLOT_ID slot);
SlotState* find_slot_state(ControlBlock& block, CK_SLOT_ID slot);

// The state for this slot id, claiming a free entry if needed; throws std::length_error if full.
SlotState& claim_slot_state(ControlBlock& block, CK_SLOT_ID slot);

// Whether the token in the slot is absent, on its own or because every token is. For kAnySlot:
// whether every token was made absent at once.
bool token_absent(const ControlBlock& block, CK_SLOT_ID slot);

// Grows whenever the slot's token is removed; sessions opened under an older value are dead.
std::uint64_t removal_generation(const ControlBlock& block, CK_SLOT_ID slot);

// Token flags to OR into C_GetTokenInfo for the slot (not counting the PIN retry simulation).
CK_FLAGS extra_token_flags(const ControlBlock& block, CK_SLOT_ID slot);

// Whether C_GetTokenInfo pads the slot's token strings with NULs instead of blanks.
bool nul_padded(const ControlBlock& block, CK_SLOT_ID slot);

// Serial number to report for the slot instead of the real one; empty if none.
std::string serial_override(const ControlBlock& block, CK_SLOT_ID slot);

}  // namespace attache::faulttoken
