#pragma once

#include <p11-kit/pkcs11.h>

#include <new>

namespace attache::faulttoken {

// Thrown by helpers deep inside a wrapped call to make the call return rv.
struct RvError {
    CK_RV rv;
};

// Runs the body of a PKCS#11 entry point so that nothing escapes into the C caller: an RvError
// becomes its rv, std::bad_alloc CKR_HOST_MEMORY, anything else CKR_GENERAL_ERROR.
template <typename Body>
CK_RV at_c_boundary(Body&& body) noexcept {
    try {
        return body();
    } catch (const RvError& error) {
        return error.rv;
    } catch (const std::bad_alloc&) {
        return CKR_HOST_MEMORY;
    } catch (...) {
        return CKR_GENERAL_ERROR;
    }
}

}  // namespace attache::faulttoken
