#pragma once

// What the client's calls need from a connection: send one request, wait for its reply.
// HelperConnection implements it over the socket; the reply decoder's fuzz target implements it
// with the fuzzer's bytes.

#include <optional>

#include "pkcs11/module_helper/wire/frame_buffer.h"
#include "pkcs11/module_helper/wire/function_ids.h"

namespace attache::p11::module_helper {

enum class CallTiming {
    timed,     // overrunning the call timeout means the helper hangs: it is killed
    unbounded  // may wait for a person (PIN pad) or an event (blocking C_WaitForSlotEvent)
};

class CallChannel {
  public:
    virtual ~CallChannel() = default;
    // Sends `request` (a finished frame; the channel sets its call id) and returns the reply's
    // payload (header first); nullopt when the helper stopped before answering.
    virtual std::optional<FrameBuffer> round_trip(CallId call, FrameBuffer request,
                                                  CallTiming timing) = 0;
};

}  // namespace attache::p11::module_helper
