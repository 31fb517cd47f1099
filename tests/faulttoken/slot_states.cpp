#include "tests/faulttoken/slot_states.h"

#include <stdexcept>
#include <utility>

#include "tests/faulttoken/writer_lock.h"

namespace attache::faulttoken {
namespace {

// The slot's own state and the every-slot state (either may be nullptr; never the same twice).
struct StatesFor {
    const SlotState* own;
    const SlotState* every;
};

StatesFor states_for(const ControlBlock& block, CK_SLOT_ID slot) {
    const SlotState* every = find_slot_state(block, kAnySlot);
    const SlotState* own = slot == kAnySlot ? nullptr : find_slot_state(block, slot);
    return {own, every};
}

}  // namespace

const SlotState* find_slot_state(const ControlBlock& block, CK_SLOT_ID slot) {
    for (const SlotState& state : block.slots) {
        if (state.in_use.load(std::memory_order_acquire) == 1 && state.slot_id.load() == slot) {
            return &state;
        }
    }
    return nullptr;
}

SlotState* find_slot_state(ControlBlock& block, CK_SLOT_ID slot) {
    return const_cast<SlotState*>(find_slot_state(std::as_const(block), slot));
}

SlotState& claim_slot_state(ControlBlock& block, CK_SLOT_ID slot) {
    WriterLock lock(block);
    if (SlotState* existing = find_slot_state(block, slot)) {
        return *existing;
    }
    for (SlotState& state : block.slots) {
        if (state.in_use.load() == 0) {
            state.absent.store(0);
            state.removals.store(0);
            state.pin_flags.store(0);
            state.wrong_pins.store(0);
            state.serial.store("");
            state.nul_padded.store(0);
            state.slot_id.store(slot);
            state.in_use.store(1, std::memory_order_release);
            return state;
        }
    }
    throw std::length_error("fault control: no free slot state (at most " +
                            std::to_string(kMaxSlotStates) + " slot ids)");
}

bool token_absent(const ControlBlock& block, CK_SLOT_ID slot) {
    const StatesFor states = states_for(block, slot);
    return (states.own && states.own->absent.load() != 0) ||
           (states.every && states.every->absent.load() != 0);
}

std::uint64_t removal_generation(const ControlBlock& block, CK_SLOT_ID slot) {
    const StatesFor states = states_for(block, slot);
    return (states.own ? states.own->removals.load() : 0) +
           (states.every ? states.every->removals.load() : 0);
}

CK_FLAGS extra_token_flags(const ControlBlock& block, CK_SLOT_ID slot) {
    const StatesFor states = states_for(block, slot);
    return (states.own ? states.own->pin_flags.load() : 0) |
           (states.every ? states.every->pin_flags.load() : 0);
}

bool nul_padded(const ControlBlock& block, CK_SLOT_ID slot) {
    const StatesFor states = states_for(block, slot);
    return (states.own && states.own->nul_padded.load() != 0) ||
           (states.every && states.every->nul_padded.load() != 0);
}

std::string serial_override(const ControlBlock& block, CK_SLOT_ID slot) {
    const StatesFor states = states_for(block, slot);
    std::string serial = states.own ? states.own->serial.load() : std::string();
    if (serial.empty() && states.every) {
        serial = states.every->serial.load();
    }
    return serial;
}

}  // namespace attache::faulttoken
