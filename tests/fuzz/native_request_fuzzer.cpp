// Fuzz target: decode_request, the agent's decoder of bytes from any same-user process.
// Any input must decode or be refused without a crash, a leak or undefined behaviour; an input
// that decodes must be the canonical encoding of what it decoded to: re-encoding gives back the
// same bytes, which decode again to the same encoding.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "pkcs11/agent_protocol/codec.h"
#include "tests/fuzz/fuzz_check.h"

using attache::Bytes;
using attache::fuzz::check;
namespace protocol = attache::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> input(data, size);
    if (size >= 4)
        (void)protocol::frame_length(input.first<4>());

    auto frame = protocol::decode_request(input);
    if (!frame)
        return 0;

    const Bytes encoded = protocol::encode_request(frame->id, frame->request);
    check(encoded.size() == size + 4, "re-encoded request has another size");
    auto len = protocol::frame_length(std::span<const uint8_t, 4>(encoded.data(), 4));
    check(len && *len == size, "re-encoded request has a wrong length prefix");
    check(std::equal(input.begin(), input.end(), encoded.begin() + 4),
          "re-encoded request differs from the input");

    auto again = protocol::decode_request(std::span<const uint8_t>(encoded).subspan(4));
    check(again.has_value(), "re-encoded request does not decode");
    check(again->id == frame->id, "request id changed");
    check(again->request.index() == frame->request.index(), "request type changed");
    check(protocol::encode_request(again->id, again->request) == encoded,
          "request does not round-trip");
    return 0;
}
