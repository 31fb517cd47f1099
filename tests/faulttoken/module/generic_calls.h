#pragma once

// Entry points for the functions the module wraps without special handling. Each is a template
// on the function id and on the CK_FUNCTION_LIST member it forwards to; its parameters are taken
// from that member's type. Use as GenericSessionCall<Fn::C_Sign, &CK_FUNCTION_LIST::C_Sign>::call.

#include <p11-kit/pkcs11.h>

#include <type_traits>
#include <utility>

#include "tests/faulttoken/function_ids.h"
#include "tests/faulttoken/module/c_boundary.h"
#include "tests/faulttoken/module/call_entry.h"

namespace attache::faulttoken {

// The function pointer type of a CK_FUNCTION_LIST member.
template <auto Member>
using MemberPointer = std::remove_reference_t<decltype(std::declval<CK_FUNCTION_LIST&>().*Member)>;

// A call about no slot or session (C_GetInfo, C_WaitForSlotEvent).
template <Fn F, auto Member, typename Pointer = MemberPointer<Member>>
struct GenericCall;

template <Fn F, auto Member, typename... Args>
struct GenericCall<F, Member, CK_RV (*)(Args...)> {
    static CK_RV call(Args... args) noexcept {
        return at_c_boundary([&] {
            enter_call(F);
            return (forward(F).*Member)(args...);
        });
    }
};

// A call about a slot whose token must be present (C_GetMechanismList, C_InitToken...).
template <Fn F, auto Member, typename Pointer = MemberPointer<Member>>
struct GenericTokenCall;

template <Fn F, auto Member, typename... Args>
struct GenericTokenCall<F, Member, CK_RV (*)(CK_SLOT_ID, Args...)> {
    static CK_RV call(CK_SLOT_ID slot, Args... args) noexcept {
        return at_c_boundary([&] {
            enter_slot_call(F, slot, TokenNeeded::kYes);
            return (forward(F).*Member)(slot, args...);
        });
    }
};

// A call on a session (C_Sign, C_FindObjects...): the caller's session handle is replaced by
// the real module's.
template <Fn F, auto Member, typename Pointer = MemberPointer<Member>>
struct GenericSessionCall;

template <Fn F, auto Member, typename... Args>
struct GenericSessionCall<F, Member, CK_RV (*)(CK_SESSION_HANDLE, Args...)> {
    static CK_RV call(CK_SESSION_HANDLE session, Args... args) noexcept {
        return at_c_boundary([&] {
            const SessionTarget target = enter_session_call(F, session);
            return (forward(F).*Member)(target.real_handle, args...);
        });
    }
};

}  // namespace attache::faulttoken
