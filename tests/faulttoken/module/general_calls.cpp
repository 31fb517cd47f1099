#include <algorithm>
#include <vector>

#include "tests/faulttoken/module/c_boundary.h"
#include "tests/faulttoken/module/call_entry.h"
#include "tests/faulttoken/module/control_attachment.h"
#include "tests/faulttoken/module/real_module.h"
#include "tests/faulttoken/module/session_table.h"
#include "tests/faulttoken/module/special_calls.h"
#include "tests/faulttoken/slot_states.h"

namespace attache::faulttoken::special {
namespace {

// The real module's slots with a token; throws RvError on failure.
std::vector<CK_SLOT_ID> real_slots_with_token(const CK_FUNCTION_LIST& real) {
    std::vector<CK_SLOT_ID> slots;
    for (;;) {
        CK_ULONG count = 0;
        CK_RV rv = real.C_GetSlotList(CK_TRUE, nullptr, &count);
        if (rv != CKR_OK) {
            throw RvError{rv};
        }
        slots.resize(count);
        rv = real.C_GetSlotList(CK_TRUE, slots.data(), &count);
        if (rv == CKR_OK) {
            slots.resize(count);
            return slots;
        }
        if (rv != CKR_BUFFER_TOO_SMALL) {
            throw RvError{rv};
        }
    }
}

// Answers C_GetSlotList with `slots`, following its two-call convention.
CK_RV report_slot_list(const std::vector<CK_SLOT_ID>& slots, CK_SLOT_ID_PTR out,
                       CK_ULONG_PTR count) {
    const CK_ULONG room = *count;
    *count = slots.size();
    if (out == nullptr) {
        return CKR_OK;
    }
    if (room < slots.size()) {
        return CKR_BUFFER_TOO_SMALL;
    }
    std::copy(slots.begin(), slots.end(), out);
    return CKR_OK;
}

}  // namespace

CK_RV initialize(CK_VOID_PTR init_args) noexcept {
    return at_c_boundary([&] {
        attach_control_from_environment();
        enter_call(Fn::C_Initialize);
        load_real_module();
        const CK_RV rv = forward(Fn::C_Initialize).C_Initialize(init_args);
        if (rv == CKR_OK) {
            session_table().clear();
        }
        return rv;
    });
}

CK_RV finalize(CK_VOID_PTR reserved) noexcept {
    return at_c_boundary([&] {
        enter_call(Fn::C_Finalize);
        const CK_RV rv = forward(Fn::C_Finalize).C_Finalize(reserved);
        if (rv == CKR_OK) {
            session_table().clear();
        }
        return rv;
    });
}

CK_RV get_slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR slots, CK_ULONG_PTR count) noexcept {
    return at_c_boundary([&] {
        enter_call(Fn::C_GetSlotList);
        const CK_FUNCTION_LIST& real = forward(Fn::C_GetSlotList);
        const ControlBlock* control = current_control();
        if (!token_present || control == nullptr) {
            return real.C_GetSlotList(token_present, slots, count);
        }
        if (count == nullptr) {
            return static_cast<CK_RV>(CKR_ARGUMENTS_BAD);
        }
        std::vector<CK_SLOT_ID> present = real_slots_with_token(real);
        std::erase_if(present, [&](CK_SLOT_ID slot) { return token_absent(*control, slot); });
        return report_slot_list(present, slots, count);
    });
}

}  // namespace attache::faulttoken::special
