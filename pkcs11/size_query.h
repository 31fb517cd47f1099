#pragma once

// The one helper for PKCS#11's "ask the size, then fill" convention.
//
// `call(buffer, &count)` is a PKCS#11 call with a NULL-or-buffer output and an in/out count.
// Without a guess, the size is asked first (buffer NULL). With a guess, the buffer is offered
// straight away (one round trip in the common case). Either way a CKR_BUFFER_TOO_SMALL is retried
// exactly once with the size the module returned, every size is checked against `cap` before
// anything is allocated, and the result is shrunk to the count the module finally reports.

#include <p11-kit/pkcs11.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pkcs11/result.h"

namespace attache::p11 {

template <typename T, typename Call>
Result<std::vector<T>> query_sized(Call&& call, size_t cap, std::string_view what,
                                   std::optional<size_t> guess = std::nullopt) {
    auto too_big = [&](CK_ULONG n) {
        return Error(std::string(what) + ": module reports " + std::to_string(n) +
                     " items, more than the limit of " + std::to_string(cap));
    };
    std::vector<T> buffer;
    CK_ULONG count = 0;
    CK_RV rv = CKR_OK;
    if (guess && *guess > 0) {
        buffer.resize(std::min(*guess, cap));
        count = static_cast<CK_ULONG>(buffer.size());
        rv = call(buffer.data(), &count);
    } else {
        rv = call(nullptr, &count);
        if (rv != CKR_OK)
            return Error::pkcs11(rv, what);
        if (count == 0)
            return buffer;
        if (count > cap)
            return too_big(count);
        buffer.resize(count);
        rv = call(buffer.data(), &count);
    }
    if (rv == CKR_BUFFER_TOO_SMALL) {
        if (count > cap)
            return too_big(count);
        if (count <= buffer.size()) {
            // The module said "too small" yet asks for no more room: do not loop on it.
            return Error::pkcs11(rv, what);
        }
        buffer.resize(count);
        rv = call(buffer.data(), &count);
    }
    if (rv != CKR_OK)
        return Error::pkcs11(rv, what);
    if (count > buffer.size()) {
        return Error(std::string(what) + ": module reports " + std::to_string(count) +
                     " items written into a buffer of " + std::to_string(buffer.size()));
    }
    buffer.resize(count);
    return buffer;
}

}  // namespace attache::p11
