#pragma once

// Encoding and decoding of the native protocol: plain functions from bytes to messages and
// back, so they can be fuzzed and tested in-process. Decoders take one frame body (without
// the u32 length prefix) and reject truncated fields, lying lengths, unknown types, values out
// of range and trailing bytes. Encoders return a whole frame, length prefix included.
// `version` is the connection's protocol version (hello): fields added in version 2 are
// written and expected only at 2 (hello itself is the same in every version).

#include <span>

#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/result.h"

namespace attache::protocol {

Result<RequestFrame> decode_request(std::span<const uint8_t> body,
                                    uint32_t version = kProtocolVersion);
Bytes encode_request(uint32_t id, const Request& request, uint32_t version = kProtocolVersion);

Result<ReplyFrame> decode_reply(std::span<const uint8_t> body, uint32_t version = kProtocolVersion);
Bytes encode_reply(uint32_t id, const Reply& reply, uint32_t version = kProtocolVersion);

// Reads the u32 length prefix of a frame. Error for 0 or more than kMaxMessageSize.
Result<uint32_t> frame_length(std::span<const uint8_t, 4> prefix);

}  // namespace attache::protocol
