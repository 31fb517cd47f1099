#pragma once

// Caps of the helper protocol. Both ends check every count and length against these before
// allocating: the agent does not trust the helper (it runs vendor code), and the helper refuses
// what no agent sends.

#include <cstddef>
#include <cstdint>

namespace attache::p11::module_helper {

// One frame's payload: room for the largest input (kMaxData) or output (kMaxOutput) with its
// framing and template.
inline constexpr size_t kMaxFrame = 4u << 20;
// One data input (C_Sign's data, C_Decrypt's ciphertext, an attribute value).
inline constexpr size_t kMaxData = 1u << 20;
// One output buffer, and all C_GetAttributeValue buffers of one call together.
inline constexpr size_t kMaxOutput = 1u << 20;
// C_GenerateRandom per call (the client splits larger requests).
inline constexpr size_t kMaxRandom = 64u << 10;
// Attributes of one template, and ids of one list (slots, mechanisms, objects).
inline constexpr size_t kMaxAttributes = 256;
inline constexpr size_t kMaxList = 4096;
// Templates nest one level (CKA_WRAP_TEMPLATE and friends inside a template).
inline constexpr int kMaxTemplateDepth = 2;
// Calls in flight in one helper; one more is answered CKR_FUNCTION_FAILED at once.
inline constexpr size_t kMaxInFlight = 64;

}  // namespace attache::p11::module_helper
