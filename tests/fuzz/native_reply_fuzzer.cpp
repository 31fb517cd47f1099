// Fuzz target: decode_reply, the decoder of the agent's bytes inside the CLI and inside every
// application that loads attache-pkcs11.so: a hostile socket must not crash them. Any input must
// decode or be refused without a crash, a leak or undefined behaviour; an input that decodes
// must re-encode to the same bytes, with one documented exception: an error code the client
// does not know decodes as `internal`.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "pkcs11/agent_protocol/codec.h"
#include "tests/fuzz/fuzz_check.h"

using attache::Bytes;
using attache::fuzz::check;
namespace protocol = attache::protocol;

namespace {

// The input as the codec canonicalises it: an unknown error code becomes `internal`.
Bytes canonical(std::span<const uint8_t> input) {
    Bytes out(input.begin(), input.end());
    constexpr size_t kCode = 5;  // after u8 type + u32 id
    if (out.size() >= kCode + 4 && out[0] == protocol::kErrorReply) {
        const uint32_t code = (uint32_t{out[kCode]} << 24) | (uint32_t{out[kCode + 1]} << 16) |
                              (uint32_t{out[kCode + 2]} << 8) | uint32_t{out[kCode + 3]};
        if (code < 1 || code > static_cast<uint32_t>(protocol::ErrorCode::internal)) {
            const auto internal = static_cast<uint32_t>(protocol::ErrorCode::internal);
            out[kCode] = static_cast<uint8_t>(internal >> 24);
            out[kCode + 1] = static_cast<uint8_t>(internal >> 16);
            out[kCode + 2] = static_cast<uint8_t>(internal >> 8);
            out[kCode + 3] = static_cast<uint8_t>(internal);
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> input(data, size);
    auto frame = protocol::decode_reply(input);
    if (!frame)
        return 0;

    const Bytes encoded = protocol::encode_reply(frame->id, frame->reply);
    const Bytes expected = canonical(input);
    check(encoded.size() == size + 4, "re-encoded reply has another size");
    auto len = protocol::frame_length(std::span<const uint8_t, 4>(encoded.data(), 4));
    check(len && *len == size, "re-encoded reply has a wrong length prefix");
    check(std::equal(expected.begin(), expected.end(), encoded.begin() + 4),
          "re-encoded reply differs from the input");

    auto again = protocol::decode_reply(std::span<const uint8_t>(encoded).subspan(4));
    check(again.has_value(), "re-encoded reply does not decode");
    check(again->id == frame->id, "reply id changed");
    check(again->reply.index() == frame->reply.index(), "reply type changed");
    check(protocol::encode_reply(again->id, again->reply) == encoded, "reply does not round-trip");
    return 0;
}
