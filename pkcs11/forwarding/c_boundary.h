#pragma once

// The exported C ABI is a firewall: nothing thrown inside the module may reach the
// application. Every entry point runs its body through at_c_boundary().

#include <p11-kit/pkcs11.h>

#include <new>

namespace attache::forwarding {

template <typename Body>
CK_RV at_c_boundary(Body&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return CKR_HOST_MEMORY;
    } catch (...) {
        return CKR_GENERAL_ERROR;
    }
}

}  // namespace attache::forwarding
