#include "tests/faulttoken/module/call_entry.h"

#include "tests/faulttoken/module/c_boundary.h"
#include "tests/faulttoken/module/control_attachment.h"
#include "tests/faulttoken/module/fault_rules.h"
#include "tests/faulttoken/module/operation_ending.h"
#include "tests/faulttoken/module/real_module.h"
#include "tests/faulttoken/module/session_table.h"
#include "tests/faulttoken/slot_states.h"

namespace attache::faulttoken {
namespace {

void count_call(ControlBlock* control, Fn function) {
    if (control) {
        control->calls[index_of(function)].fetch_add(1);
    }
}

// The CK_RV a configured fault makes the call return instead of going on, if any.
std::optional<CK_RV> injected_fault(ControlBlock* control, Fn function,
                                    std::optional<CK_SLOT_ID> slot) {
    if (control == nullptr) {
        return std::nullopt;
    }
    if (const std::optional<CK_RV> rv = wait_for_delay_rules(*control, function, slot)) {
        return rv;
    }
    return take_fail_rule(*control, function, slot);
}

bool token_absent_now(CK_SLOT_ID slot) {
    const ControlBlock* control = current_control();
    return control && token_absent(*control, slot);
}

}  // namespace

void enter_call(Fn function, std::optional<CK_SLOT_ID> slot) {
    ControlBlock* control = current_control();
    count_call(control, function);
    if (const std::optional<CK_RV> rv = injected_fault(control, function, slot)) {
        throw RvError{*rv};
    }
}

void enter_slot_call(Fn function, CK_SLOT_ID slot, TokenNeeded token_needed) {
    enter_call(function, slot);
    close_removed_sessions(slot);
    if (token_needed == TokenNeeded::kYes && token_absent_now(slot)) {
        throw RvError{CKR_TOKEN_NOT_PRESENT};
    }
}

SessionTarget enter_session_call(Fn function, CK_SESSION_HANDLE session) {
    ControlBlock* control = current_control();
    count_call(control, function);
    std::optional<SessionRecord> record = session_table().find(session);
    const std::optional<CK_SLOT_ID> slot =
        record ? std::optional<CK_SLOT_ID>(record->slot_id) : std::nullopt;
    if (const std::optional<CK_RV> rv = injected_fault(control, function, slot)) {
        if (record && !record->removed && injected_failure_ends_operation(function, *rv)) {
            end_real_operation(real_module(), function, record->real_handle);
        }
        throw RvError{*rv};
    }
    if (!record) {
        throw RvError{CKR_SESSION_HANDLE_INVALID};
    }
    close_removed_sessions(record->slot_id);
    record = session_table().find(session);
    if (!record) {
        throw RvError{CKR_SESSION_HANDLE_INVALID};
    }
    if (record->removed) {
        throw RvError{removed_session_rv(record->slot_id)};
    }
    if (token_absent_now(record->slot_id)) {
        throw RvError{CKR_DEVICE_REMOVED};
    }
    return {record->real_handle, record->slot_id};
}

CK_RV removed_session_rv(CK_SLOT_ID slot) {
    return token_absent_now(slot) ? CKR_DEVICE_REMOVED : CKR_SESSION_HANDLE_INVALID;
}

void close_removed_sessions(CK_SLOT_ID slot) {
    const ControlBlock* control = current_control();
    if (control == nullptr) {
        return;
    }
    const auto real_handles =
        session_table().mark_removed(slot, removal_generation(*control, slot));
    for (const CK_SESSION_HANDLE real_handle : real_handles) {
        real_module().C_CloseSession(real_handle);
    }
}

const CK_FUNCTION_LIST& forward(Fn function) {
    const CK_FUNCTION_LIST& real = real_module();
    if (ControlBlock* control = current_control()) {
        control->forwarded[index_of(function)].fetch_add(1);
    }
    return real;
}

}  // namespace attache::faulttoken
