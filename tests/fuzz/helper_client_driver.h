#pragma once

// Runs each of the module-helper client's calls with fixed caller arguments (exact-size heap
// buffers, so ASan sees any write past them) through a CallChannel, and checks what the call
// wrote: an answered length never exceeds what the caller offered when the call succeeded.
// Used by the reply fuzzer (the channel answers with the fuzzer's bytes) and by the seed
// generator (the channel answers with the helper's dispatcher over the stub module).

#include <p11-kit/pkcs11.h>

#include <cstddef>

#include "pkcs11/module_helper/client/call_channel.h"

namespace attache::fuzz {

size_t client_call_count();
CK_RV run_client_call(size_t index, p11::module_helper::CallChannel& channel);

}  // namespace attache::fuzz
