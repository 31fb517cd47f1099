// Client calls at module and slot level.

#include <cstring>

#include "pkcs11/module_helper/client/call_exchange.h"
#include "pkcs11/module_helper/client/client_calls.h"
#include "pkcs11/module_helper/wire/limits.h"

namespace attache::p11::module_helper {

CK_RV read_output(FieldReader& in, CK_RV rv, CK_BYTE_PTR out, CK_ULONG offered,
                  CK_ULONG_PTR out_len) {
    const CK_ULONG length = in.ulong();
    auto bytes = in.bytes();
    if (in.failed())
        return CKR_DEVICE_ERROR;
    if (rv == CKR_OK && out != nullptr) {
        if (!bytes || bytes->size() != length || length > offered)
            return CKR_DEVICE_ERROR;
        if (length > 0)
            std::memcpy(out, bytes->data(), length);
        *out_len = length;
        return rv;
    }
    if (bytes)
        return CKR_DEVICE_ERROR;
    if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
        *out_len = length;
    return rv;
}

namespace client_calls {
namespace {

template <typename Info>
CK_RV read_struct(FieldReader& in, CK_RV rv, Info* info) {
    auto bytes = in.bytes();
    if (rv != CKR_OK)
        return bytes ? CKR_DEVICE_ERROR : rv;
    if (!bytes || bytes->size() != sizeof(Info))
        return CKR_DEVICE_ERROR;
    std::memcpy(info, bytes->data(), sizeof(Info));
    return rv;
}

CK_RV read_list(FieldReader& in, CK_RV rv, CK_ULONG* list, CK_ULONG_PTR count) {
    const CK_ULONG offered = *count;
    const CK_ULONG reported = in.ulong();
    std::vector<CK_ULONG> values;
    const bool has_values = !in.next_is_null();
    if (has_values)
        values = in.list(kMaxList);
    else
        in.bytes();  // the null field
    if (in.failed())
        return CKR_DEVICE_ERROR;
    if (rv == CKR_OK && list != nullptr) {
        if (!has_values || values.size() != reported || reported > offered)
            return CKR_DEVICE_ERROR;
        std::copy(values.begin(), values.end(), list);
        *count = reported;
        return rv;
    }
    if (has_values)
        return CKR_DEVICE_ERROR;
    if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
        *count = reported;
    return rv;
}

}  // namespace

CK_RV initialize(CallChannel&, CK_VOID_PTR) {
    return CKR_OK;
}

CK_RV finalize(CallChannel&, CK_VOID_PTR reserved) {
    return reserved == nullptr ? CKR_OK : CKR_ARGUMENTS_BAD;
}

CK_RV get_info(CallChannel& ch, CK_INFO_PTR info) {
    if (info == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_GetInfo);
    return exchange(ch, CallId::C_GetInfo, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) { return read_struct(in, rv, info); });
}

CK_RV get_slot_list(CallChannel& ch, CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
    if (count == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_GetSlotList);
    w.ulong(present ? 1 : 0);
    write_output_request(w, list, *count);
    return exchange(ch, CallId::C_GetSlotList, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) { return read_list(in, rv, list, count); });
}

CK_RV get_slot_info(CallChannel& ch, CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
    if (info == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_GetSlotInfo);
    w.ulong(slot);
    return exchange(ch, CallId::C_GetSlotInfo, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) { return read_struct(in, rv, info); });
}

CK_RV get_token_info(CallChannel& ch, CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
    if (info == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_GetTokenInfo);
    w.ulong(slot);
    return exchange(ch, CallId::C_GetTokenInfo, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) { return read_struct(in, rv, info); });
}

CK_RV get_mechanism_list(CallChannel& ch, CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list,
                         CK_ULONG_PTR count) {
    if (count == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_GetMechanismList);
    w.ulong(slot);
    write_output_request(w, list, *count);
    return exchange(ch, CallId::C_GetMechanismList, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) { return read_list(in, rv, list, count); });
}

CK_RV get_mechanism_info(CallChannel& ch, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                         CK_MECHANISM_INFO_PTR info) {
    if (info == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_GetMechanismInfo);
    w.ulong(slot);
    w.ulong(type);
    return exchange(ch, CallId::C_GetMechanismInfo, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) { return read_struct(in, rv, info); });
}

CK_RV init_token(CallChannel& ch, CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                 CK_UTF8CHAR_PTR label) {
    if (label == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_InitToken);
    w.ulong(slot);
    w.bytes(pin, pin_len);
    w.bytes(label, 32);
    return exchange_rv(ch, CallId::C_InitToken, w,
                       pin == nullptr ? CallTiming::unbounded : CallTiming::timed);
}

CK_RV wait_for_slot_event(CallChannel& ch, CK_FLAGS flags, CK_SLOT_ID_PTR slot,
                          CK_VOID_PTR reserved) {
    if (slot == nullptr || reserved != nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_WaitForSlotEvent);
    w.ulong(flags);
    const CallTiming timing =
        (flags & CKF_DONT_BLOCK) != 0 ? CallTiming::timed : CallTiming::unbounded;
    return exchange(ch, CallId::C_WaitForSlotEvent, w, timing, [&](FieldReader& in, CK_RV rv) {
        const CK_SLOT_ID s = in.ulong();
        if (rv == CKR_OK)
            *slot = s;
        return rv;
    });
}

CK_RV generate_random(CallChannel& ch, CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG len) {
    if (out == nullptr)
        return CKR_ARGUMENTS_BAD;
    if (len == 0)
        return CKR_OK;
    CK_ULONG done = 0;
    do {
        const CK_ULONG chunk = std::min<CK_ULONG>(len - done, kMaxRandom);
        FieldWriter w(CallId::C_GenerateRandom);
        w.ulong(s);
        w.ulong(chunk);
        const CK_RV result = exchange(
            ch, CallId::C_GenerateRandom, w, CallTiming::timed, [&](FieldReader& in, CK_RV rv) {
                CK_ULONG got = chunk;
                const CK_RV r = read_output(in, rv, out + done, chunk, &got);
                return r == CKR_OK && got != chunk ? static_cast<CK_RV>(CKR_DEVICE_ERROR) : r;
            });
        if (result != CKR_OK)
            return result;
        done += chunk;
    } while (done < len);
    return CKR_OK;
}

}  // namespace client_calls
}  // namespace attache::p11::module_helper
