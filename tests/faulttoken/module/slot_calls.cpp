#include <algorithm>
#include <string>

#include "tests/faulttoken/module/c_boundary.h"
#include "tests/faulttoken/module/call_entry.h"
#include "tests/faulttoken/module/control_attachment.h"
#include "tests/faulttoken/module/pin_simulation.h"
#include "tests/faulttoken/module/session_table.h"
#include "tests/faulttoken/module/special_calls.h"
#include "tests/faulttoken/slot_states.h"

namespace attache::faulttoken::special {
namespace {

// Writes a serial number into CK_TOKEN_INFO's blank-padded 16-character field.
void write_serial(CK_TOKEN_INFO& info, const std::string& serial) {
    auto* field = reinterpret_cast<char*>(info.serialNumber);
    const std::size_t size = sizeof info.serialNumber;
    std::fill(field, field + size, ' ');
    std::copy_n(serial.begin(), std::min(serial.size(), size), field);
}

// Replaces the blank padding at the end of a fixed-size field with NULs.
void pad_with_nuls(unsigned char* field, std::size_t size) {
    for (std::size_t i = size; i > 0 && field[i - 1] == ' '; --i)
        field[i - 1] = '\0';
}

// Adds the configured token flags, the simulated PIN counter's flags and the serial override.
void apply_token_faults(CK_TOKEN_INFO& info, const ControlBlock& control, CK_SLOT_ID slot) {
    info.flags |= extra_token_flags(control, slot);
    if (const CK_FLAGS simulated = simulated_pin_flags(control, slot)) {
        info.flags &= ~(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED);
        info.flags |= simulated;
    }
    if (const std::string serial = serial_override(control, slot); !serial.empty()) {
        write_serial(info, serial);
    }
    if (nul_padded(control, slot)) {
        pad_with_nuls(info.label, sizeof info.label);
        pad_with_nuls(info.manufacturerID, sizeof info.manufacturerID);
        pad_with_nuls(info.model, sizeof info.model);
        pad_with_nuls(info.serialNumber, sizeof info.serialNumber);
    }
}

}  // namespace

CK_RV get_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) noexcept {
    return at_c_boundary([&] {
        enter_slot_call(Fn::C_GetSlotInfo, slot, TokenNeeded::kNo);
        const CK_RV rv = forward(Fn::C_GetSlotInfo).C_GetSlotInfo(slot, info);
        if (rv == CKR_OK) {
            info->flags |= CKF_REMOVABLE_DEVICE;
            const ControlBlock* control = current_control();
            if (control && token_absent(*control, slot)) {
                info->flags &= ~CKF_TOKEN_PRESENT;
            }
        }
        return rv;
    });
}

CK_RV get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) noexcept {
    return at_c_boundary([&] {
        enter_slot_call(Fn::C_GetTokenInfo, slot, TokenNeeded::kYes);
        const CK_RV rv = forward(Fn::C_GetTokenInfo).C_GetTokenInfo(slot, info);
        const ControlBlock* control = current_control();
        if (rv == CKR_OK && control) {
            apply_token_faults(*info, *control, slot);
        }
        return rv;
    });
}

CK_RV open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR application, CK_NOTIFY notify,
                   CK_SESSION_HANDLE_PTR session) noexcept {
    return at_c_boundary([&] {
        enter_slot_call(Fn::C_OpenSession, slot, TokenNeeded::kYes);
        if (session == nullptr) {
            return static_cast<CK_RV>(CKR_ARGUMENTS_BAD);
        }
        // Read the generation before checking presence again: FaultControl marks a token absent
        // before it counts the removal, so a session cannot slip in under the new generation.
        const ControlBlock* control = current_control();
        const std::uint64_t generation = control ? removal_generation(*control, slot) : 0;
        if (control && token_absent(*control, slot)) {
            return static_cast<CK_RV>(CKR_TOKEN_NOT_PRESENT);
        }
        CK_SESSION_HANDLE real_handle = CK_INVALID_HANDLE;
        const CK_RV rv = forward(Fn::C_OpenSession)
                             .C_OpenSession(slot, flags, application, notify, &real_handle);
        if (rv == CKR_OK) {
            *session = session_table().add(real_handle, slot, generation);
        }
        return rv;
    });
}

CK_RV close_all_sessions(CK_SLOT_ID slot) noexcept {
    return at_c_boundary([&] {
        enter_slot_call(Fn::C_CloseAllSessions, slot, TokenNeeded::kNo);
        const CK_RV rv = forward(Fn::C_CloseAllSessions).C_CloseAllSessions(slot);
        if (rv == CKR_OK) {
            session_table().erase_slot(slot);
        }
        return rv;
    });
}

}  // namespace attache::faulttoken::special
