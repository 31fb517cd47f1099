#include "tests/faulttoken/module/pin_simulation.h"

#include <stdexcept>

#include "tests/faulttoken/slot_states.h"

namespace attache::faulttoken {
namespace {

std::uint32_t wrong_pins(const ControlBlock& block, CK_SLOT_ID slot) {
    const SlotState* state = find_slot_state(block, slot);
    return state ? state->wrong_pins.load() : 0;
}

}  // namespace

bool counts_pin_tries(const ControlBlock& block, CK_USER_TYPE user_type) {
    return block.max_pin_tries.load() > 0 &&
           (user_type == CKU_USER || user_type == CKU_CONTEXT_SPECIFIC);
}

CK_FLAGS simulated_pin_flags(const ControlBlock& block, CK_SLOT_ID slot) {
    const std::uint32_t max_tries = block.max_pin_tries.load();
    const std::uint32_t wrong = wrong_pins(block, slot);
    if (max_tries == 0) {
        return 0;
    }
    if (wrong >= max_tries) {
        return CKF_USER_PIN_LOCKED;
    }
    CK_FLAGS flags = wrong > 0 ? CKF_USER_PIN_COUNT_LOW : 0;
    if (max_tries - wrong == 1) {
        flags |= CKF_USER_PIN_FINAL_TRY;
    }
    return flags;
}

bool simulated_pin_locked(const ControlBlock& block, CK_SLOT_ID slot) {
    const std::uint32_t max_tries = block.max_pin_tries.load();
    return max_tries > 0 && wrong_pins(block, slot) >= max_tries;
}

void record_login_result(ControlBlock& block, CK_SLOT_ID slot, CK_RV rv) {
    if (rv == CKR_OK) {
        reset_wrong_pins(block, slot);
    } else if (rv == CKR_PIN_INCORRECT) {
        try {
            claim_slot_state(block, slot).wrong_pins.fetch_add(1);
        } catch (const std::length_error&) {
            // Every slot state is taken; this slot's tries go uncounted.
        }
    }
}

void reset_wrong_pins(ControlBlock& block, CK_SLOT_ID slot) {
    if (SlotState* state = find_slot_state(block, slot)) {
        state->wrong_pins.store(0);
    }
}

std::optional<std::string> pinpad_pin(const ControlBlock& block, CK_SLOT_ID slot) {
    if ((extra_token_flags(block, slot) & CKF_PROTECTED_AUTHENTICATION_PATH) == 0) {
        return std::nullopt;
    }
    std::string pin = block.pinpad_pin.load();
    if (pin.empty()) {
        return std::nullopt;
    }
    return pin;
}

}  // namespace attache::faulttoken
