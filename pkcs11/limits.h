#pragma once

// Caps on every count or size a PKCS#11 module reports, checked before we allocate. A module
// (or a card behind it) is code we do not control; a lying length must not become a huge
// allocation.

#include <cstddef>

namespace attache::p11 {

// Slots: p11-kit's proxy with many readers reaches a few dozen.
inline constexpr size_t kMaxSlots = 256;
// Mechanisms per token: SoftHSM2 reports about 70, OpenSC fewer.
inline constexpr size_t kMaxMechanisms = 1024;
// Objects matched by one search.
inline constexpr size_t kMaxObjects = 4096;
// One attribute value: certificates are the largest (a few KiB); 1 MiB is generous.
inline constexpr size_t kMaxAttributeSize = 1 << 20;
// One signature, decryption or derived secret: RSA-16384 needs 2 KiB.
inline constexpr size_t kMaxOutputSize = 64 * 1024;

}  // namespace attache::p11
