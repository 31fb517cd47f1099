#pragma once

// The round trip every client call shares: finish the request, send it, check the reply's
// header, then let the call decode rv and its outputs. A reply that does not decode in full
// answers CKR_DEVICE_ERROR.

#include <p11-kit/pkcs11.h>

#include "pkcs11/module_helper/client/call_channel.h"
#include "pkcs11/module_helper/wire/field_reader.h"
#include "pkcs11/module_helper/wire/field_writer.h"

namespace attache::p11::module_helper {

template <typename Decode>
CK_RV exchange(CallChannel& ch, CallId call, FieldWriter& request, CallTiming timing,
               Decode&& decode) {
    auto frame = request.finish();
    if (!frame)
        return CKR_ARGUMENTS_BAD;
    auto reply = ch.round_trip(call, std::move(*frame), timing);
    if (!reply)
        return CKR_DEVICE_ERROR;
    auto header = read_frame_header(reply->bytes());
    if (!header)
        return CKR_DEVICE_ERROR;
    if (header->call == static_cast<std::uint16_t>(CallId::busy))
        return CKR_FUNCTION_FAILED;
    if (header->call == static_cast<std::uint16_t>(CallId::malformed))
        return CKR_GENERAL_ERROR;
    if (header->call != static_cast<std::uint16_t>(call))
        return CKR_DEVICE_ERROR;
    FieldReader in(reply->bytes());
    const CK_RV rv = in.ulong();
    const CK_RV result = decode(in, rv);
    if (!in.finish())
        return CKR_DEVICE_ERROR;
    return result;
}

// A call whose reply is rv alone.
inline CK_RV exchange_rv(CallChannel& ch, CallId call, FieldWriter& request,
                         CallTiming timing = CallTiming::timed) {
    return exchange(ch, call, request, timing, [](FieldReader&, CK_RV rv) { return rv; });
}

// An output buffer offered by the caller: whether there is one, and its size.
inline void write_output_request(FieldWriter& w, const void* out, CK_ULONG size) {
    w.ulong(out != nullptr ? 1 : 0);
    w.ulong(out != nullptr ? size : 0);
}

// Decodes an output written by the helper's write_output into the caller's buffer and length.
CK_RV read_output(FieldReader& in, CK_RV rv, CK_BYTE_PTR out, CK_ULONG offered,
                  CK_ULONG_PTR out_len);

}  // namespace attache::p11::module_helper
