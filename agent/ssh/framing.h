#pragma once

// Agent protocol framing: every message is a uint32 big-endian length followed by that many
// bytes (the message type byte and its contents). FrameSplitter turns a byte stream, fed in
// whatever pieces the socket delivers, into complete frames.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "agent/ssh/wire.h"
#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::ssh {

// Largest frame body accepted, as OpenSSH's ssh-agent and ssh client cap it (AGENT_MAX_LEN).
inline constexpr std::uint32_t kMaxFrameSize = 256 * 1024;

// The frame of a message body: its uint32 length, then the body.
// Precondition: body.size() <= kMaxFrameSize (aborts otherwise; encoders stay far below it).
Bytes frame(ByteView body);

class FrameSplitter {
  public:
    FrameSplitter() = default;
    // Wipes whatever it still holds (a partial frame may be a PIN on its way in).
    ~FrameSplitter();
    FrameSplitter(const FrameSplitter&) = delete;
    FrameSplitter& operator=(const FrameSplitter&) = delete;

    // Takes received bytes. A length prefix of 0 or above kMaxFrameSize is a protocol error:
    // feed() returns it, stops consuming, and every later feed() returns it again; the
    // connection is to be closed. Frames completed before the bad prefix stay available from
    // next(). Memory held never exceeds about twice the bytes actually received: the claimed
    // length is not reserved up front.
    Status feed(ByteView data);

    // The oldest complete frame body (without its length prefix), if any. Call it until it
    // returns nothing after each feed(). The caller owns and should wipe frames that carried
    // secrets.
    std::optional<Bytes> next();

    bool failed() const { return error_.has_value(); }
    // True while part of a frame (some of its length or body) has arrived but not all of it.
    bool partial() const { return header_len_ > 0; }
    size_t frames_ready() const { return ready_.size(); }

  private:
    void append_body(ByteView data);

    std::uint8_t header_[4] = {};
    size_t header_len_ = 0;
    std::uint32_t body_len_ = 0;  // meaningful once header_len_ == 4
    Bytes body_;
    std::deque<Bytes> ready_;
    std::optional<Error> error_;
};

}  // namespace attache::ssh
