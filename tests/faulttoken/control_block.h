#pragma once

// Layout of the control file shared (mmap MAP_SHARED) by a test and the fault-injecting module.
// Every field is a lock-free std::atomic, so both sides may read and write it at any time, from
// any thread of any process. Only FaultControl::create() constructs a block; everyone else maps
// an existing one and checks magic, version and size first.

#include <p11-kit/pkcs11.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "tests/faulttoken/function_ids.h"

namespace attache::faulttoken {

// Slot id meaning "every slot" in rules and slot states.
inline constexpr CK_SLOT_ID kAnySlot = ~CK_SLOT_ID{0};

inline constexpr std::uint32_t kControlMagic = 0x43544641;  // "AFTC" in a little-endian dump
inline constexpr std::uint32_t kControlVersion = 2;
inline constexpr std::size_t kMaxSlotStates = 16;  // distinct slot ids, including kAnySlot
inline constexpr std::size_t kMaxRules = 16;
inline constexpr std::size_t kMaxSerialLength = 16;  // CK_TOKEN_INFO::serialNumber
inline constexpr std::size_t kMaxPinpadPinLength = 32;

// A short string in shared memory. A reader racing a writer may see a mix of old and new text.
template <std::size_t Capacity>
struct SharedText {
    std::atomic<std::uint32_t> length;
    std::atomic<char> chars[Capacity];

    // Replaces the text; anything beyond Capacity characters is cut off.
    void store(std::string_view text) {
        const std::size_t n = std::min(text.size(), Capacity);
        length.store(0);
        for (std::size_t i = 0; i < n; ++i) {
            chars[i].store(text[i]);
        }
        length.store(static_cast<std::uint32_t>(n));
    }

    // Copies the text out.
    std::string load() const {
        const std::size_t n = std::min<std::size_t>(length.load(), Capacity);
        std::string text(n, '\0');
        for (std::size_t i = 0; i < n; ++i) {
            text[i] = chars[i].load();
        }
        return text;
    }
};

// What the test has made of one slot (or, with slot_id == kAnySlot, of every slot).
struct SlotState {
    std::atomic<std::uint32_t> in_use;      // 1 once claimed for slot_id; claimed under writer_lock
    std::atomic<std::uint32_t> absent;      // 1 while the token is "unplugged"
    std::atomic<CK_SLOT_ID> slot_id;        // a real module's slot id, or kAnySlot
    std::atomic<std::uint64_t> removals;    // grows at every present -> absent change
    std::atomic<CK_FLAGS> pin_flags;        // CKF_ token flags OR-ed into C_GetTokenInfo
    std::atomic<std::uint32_t> wrong_pins;  // wrong user PINs since the last good one
    SharedText<kMaxSerialLength> serial;    // reported serial number; empty: the real one
    std::atomic<std::uint32_t> nul_padded;  // 1: C_GetTokenInfo pads strings with NULs (TPMs)
};

enum class RuleKind : std::uint32_t {
    kFree,     // unused
    kWriting,  // being filled in by a writer; ignore
    kFail,     // return rv instead of calling the real function
    kDelay,    // sleep delay_ms before going on
    kHang,     // wait until the rule is removed (or the token is)
    kCrash,    // abort() the process: a module crashing inside the call
};

// A fault applied to calls of one function, on one slot or on any.
struct Rule {
    std::atomic<RuleKind> kind;
    std::atomic<Fn> function;
    std::atomic<CK_SLOT_ID> slot_id;      // or kAnySlot
    std::atomic<CK_RV> rv;                // kFail: what the call returns
    std::atomic<std::int64_t> remaining;  // kFail: calls left to fail; -1: forever
    std::atomic<std::uint64_t> delay_ms;  // kDelay
    std::atomic<std::uint64_t> stamp;     // new value whenever the rule is (re)written
};

struct ControlBlock {
    std::atomic<std::uint32_t> magic;          // kControlMagic, written last by create()
    std::atomic<std::uint32_t> version;        // kControlVersion
    std::atomic<std::uint64_t> size;           // sizeof(ControlBlock)
    std::atomic<std::uint32_t> writer_lock;    // serialises claiming slot states and rules
    std::atomic<std::uint32_t> max_pin_tries;  // > 0: simulate a user PIN retry counter
    std::atomic<std::uint64_t> next_stamp;
    SharedText<kMaxPinpadPinLength> pinpad_pin;  // "typed" on the PIN pad for C_Login(NULL PIN)
    SlotState slots[kMaxSlotStates];
    Rule rules[kMaxRules];
    std::atomic<std::uint64_t> calls[kFunctionCount];      // calls the module received
    std::atomic<std::uint64_t> forwarded[kFunctionCount];  // calls passed on to the real module
};

static_assert(std::is_standard_layout_v<ControlBlock>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<CK_ULONG>::is_always_lock_free);
static_assert(std::atomic<RuleKind>::is_always_lock_free);
static_assert(std::atomic<Fn>::is_always_lock_free);
static_assert(std::atomic<char>::is_always_lock_free);

}  // namespace attache::faulttoken
