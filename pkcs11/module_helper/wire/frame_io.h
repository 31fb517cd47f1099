#pragma once

// Frames on a stream socket: blocking reads and writes of whole frames, and an assembler that
// cuts frames out of whatever a non-blocking read returned.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "pkcs11/module_helper/wire/frame_buffer.h"

namespace attache::p11::module_helper {

// Writes the whole frame (prefix included); false on error (EPIPE when the peer is gone).
bool write_frame(int fd, const FrameBuffer& frame);

enum class ReadStatus { frame, end, error, oversized };
// Reads one frame's payload (no prefix) blocking; `end` on EOF before a frame started.
ReadStatus read_frame(int fd, FrameBuffer& payload);

class FrameAssembler {
  public:
    // Appends bytes read from the socket.
    void feed(const std::uint8_t* data, size_t size);
    // The next whole payload; nullopt when none is complete yet. bad() after an oversized or
    // undersized length prefix: the stream can no longer be trusted.
    std::optional<FrameBuffer> next();
    bool bad() const { return bad_; }

  private:
    FrameBuffer pending_;
    size_t start_ = 0;
    bool bad_ = false;
};

}  // namespace attache::p11::module_helper
