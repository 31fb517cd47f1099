// Fuzz target: the module-helper client's reply decoders, which run inside the agent on bytes
// from a process that runs vendor code. The first input byte picks a client call (with fixed,
// exact-size caller buffers); the rest is the helper's reply payload, its function id set to the
// call's. Any reply must decode or give an error without a crash, a write past a caller's buffer
// or undefined behaviour; a length answered with CKR_OK never exceeds what the caller offered.

#include <cstddef>
#include <cstdint>

#include "pkcs11/module_helper/client/call_channel.h"
#include "tests/fuzz/helper_client_driver.h"

namespace helper = attache::p11::module_helper;

namespace {

class FuzzChannel : public helper::CallChannel {
  public:
    FuzzChannel(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    std::optional<helper::FrameBuffer> round_trip(helper::CallId call, helper::FrameBuffer,
                                                  helper::CallTiming) override {
        helper::FrameBuffer reply;
        reply.append(data_, size_);
        auto& b = reply.bytes();
        if (b.size() >= helper::kFrameHeader && (b[4] & 0x80) == 0 && b[5] != 2 && b[5] != 3) {
            // The helper's answer to this call. A set top bit keeps the fuzzer's own function
            // id, and so do 2 and 3 (malformed, busy).
            b[4] = static_cast<uint8_t>(static_cast<uint16_t>(call) >> 8);
            b[5] = static_cast<uint8_t>(call);
        }
        return reply;
    }

  private:
    const uint8_t* data_;
    size_t size_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    FuzzChannel channel(data + 1, size - 1);
    attache::fuzz::run_client_call(data[0] % attache::fuzz::client_call_count(), channel);
    return 0;
}
