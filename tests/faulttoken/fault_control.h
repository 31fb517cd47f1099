#pragma once

// Test-side client of the fault-injecting PKCS#11 module (libattache-faulttoken.so). The module
// and the test share a control file named by ATTACHE_FAULT_CONTROL; a FaultControl maps that
// file and changes what the module does, taking effect on the module's next call.

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "tests/faulttoken/control_block.h"
#include "tests/faulttoken/function_ids.h"

namespace attache::faulttoken {

class FaultControl {
  public:
    // Creates (or resets in place) the control file at path: every slot present, no faults.
    static FaultControl create(const std::string& path);
    // Maps an existing control file; throws std::runtime_error if it is not one.
    static FaultControl open(const std::string& path);

    FaultControl(FaultControl&& other) noexcept;
    FaultControl& operator=(FaultControl&& other) noexcept;
    FaultControl(const FaultControl&) = delete;
    FaultControl& operator=(const FaultControl&) = delete;
    ~FaultControl();

    // "Unplugs" the token of a slot (kAnySlot: of every slot); its open sessions die.
    void set_absent(CK_SLOT_ID slot = kAnySlot);
    // "Plugs" the token back in (kAnySlot: every slot, and undoes set_absent(kAnySlot)).
    void set_present(CK_SLOT_ID slot = kAnySlot);
    // Whether the slot's token is absent (kAnySlot: whether set_absent(kAnySlot) is in force).
    bool is_absent(CK_SLOT_ID slot) const;

    // Makes C_GetTokenInfo report this serial number (at most 16 chars; empty: the real one).
    void set_serial(CK_SLOT_ID slot, std::string_view serial);
    // Makes C_GetTokenInfo pad label, manufacturer, model and serial with NULs, as tpm2-pkcs11
    // does, instead of blanks.
    void set_nul_padded(bool nul_padded, CK_SLOT_ID slot = kAnySlot);
    // Token flags (e.g. CKF_USER_PIN_FINAL_TRY) OR-ed into C_GetTokenInfo; replaces earlier ones.
    void set_pin_flags(CK_FLAGS flags, CK_SLOT_ID slot = kAnySlot);
    // Simulates a user PIN retry counter of `tries` wrong PINs (0: off); resets wrong-PIN counts.
    void set_max_pin_tries(std::uint32_t tries);
    // PIN "typed on the PIN pad" for C_Login with a NULL PIN on a CKF_PROTECTED_AUTHENTICATION_PATH
    // slot.
    void set_pinpad_pin(std::string_view pin);

    // Makes `count` calls (-1: all) of the function return rv without reaching the real module.
    void fail(Fn function, CK_RV rv, CK_SLOT_ID slot = kAnySlot, std::int64_t count = -1);
    // Makes every call of the function sleep for `milliseconds` first.
    void delay(Fn function, std::uint32_t milliseconds, CK_SLOT_ID slot = kAnySlot);
    // Makes calls of the function block until clear_rules() or until their token is removed.
    void hang(Fn function, CK_SLOT_ID slot = kAnySlot);
    // Makes calls of the function abort() the process they run in (a module crashing inside
    // C_Sign, say). Meant for a module loaded in a helper process, never in the test itself.
    void crash(Fn function, CK_SLOT_ID slot = kAnySlot);
    // Removes every fail, delay, hang and crash rule (releasing hung calls).
    void clear_rules();

    // Calls of the function that the module received.
    std::uint64_t count(Fn function) const;
    // Calls of the function that the module passed on to the real module.
    std::uint64_t forwarded_count(Fn function) const;
    // Sets every call counter back to zero.
    void reset_counts();

    // The shared block itself, for anything the methods above do not cover.
    ControlBlock& block() const { return *block_; }

  private:
    explicit FaultControl(ControlBlock* block) : block_(block) {}
    void add_rule(RuleKind kind, Fn function, CK_SLOT_ID slot, CK_RV rv, std::int64_t remaining,
                  std::uint64_t delay_ms);

    ControlBlock* block_;
};

}  // namespace attache::faulttoken
