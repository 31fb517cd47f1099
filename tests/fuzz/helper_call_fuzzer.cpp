// Fuzz target: dispatch_call, the module helper's decoder of the agent's requests. The helper
// runs vendor code next to PINs, so a request must decode or be refused without a crash, a leak
// or undefined behaviour, and the module (a stub that reads every input byte) must only ever
// get pointers and lengths that hold. Any input with a header gets exactly one reply frame, for
// the same call id, within the frame limit.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pkcs11/module_helper/server/call_dispatch.h"
#include "pkcs11/module_helper/wire/limits.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/helper_stub_module.h"

using attache::fuzz::check;
namespace helper = attache::p11::module_helper;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<uint8_t> payload(data, data + size);  // the dispatcher reads PINs in place
    auto reply = helper::dispatch_call(attache::fuzz::stub_module(), payload);
    auto header = helper::read_frame_header(payload);
    check(reply.has_value() == header.has_value(), "a reply exactly when there is a header");
    if (!reply)
        return 0;
    const auto& bytes = reply->bytes();
    check(bytes.size() >= helper::kLengthPrefix + helper::kFrameHeader, "reply too short");
    auto length = helper::frame_payload_length(
        std::span<const uint8_t, helper::kLengthPrefix>(bytes.data(), helper::kLengthPrefix));
    check(length && *length == bytes.size() - helper::kLengthPrefix, "reply length prefix");
    auto reply_header = helper::read_frame_header(std::span(bytes).subspan(helper::kLengthPrefix));
    check(reply_header && reply_header->call_id == header->call_id, "reply for another call id");
    return 0;
}
