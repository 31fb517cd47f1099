#pragma once

// The helper's call decoder: one request frame in, the module called, one reply frame out.
// A plain function of bytes and a function list, so it is fuzzed (tests/fuzz) against a stub
// module. Every count and length is checked before anything is allocated or the module is
// called; a request that does not decode is answered CallId::malformed without calling the
// module.

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <optional>
#include <span>

#include "pkcs11/module_helper/wire/frame_buffer.h"

namespace attache::p11::module_helper {

// `payload` is one frame without its length prefix (header first). nullopt: not even a header
// could be read (the helper then stops: its peer is not an agent).
std::optional<FrameBuffer> dispatch_call(CK_FUNCTION_LIST* module, std::span<std::uint8_t> payload);

}  // namespace attache::p11::module_helper
