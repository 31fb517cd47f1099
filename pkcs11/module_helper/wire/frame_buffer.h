#pragma once

// The bytes of one protocol frame: a 4-byte big-endian payload length, then the payload
// (u32 call id, u16 function id, typed fields). Frames carry PINs (C_Login) and plaintexts
// (C_Decrypt's output), so every frame is wiped when it is freed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace attache::p11::module_helper {

inline constexpr size_t kLengthPrefix = 4;
inline constexpr size_t kFrameHeader = 6;  // u32 call id + u16 function id

class FrameBuffer {
  public:
    FrameBuffer() = default;
    explicit FrameBuffer(size_t size) : bytes_(size) {}
    FrameBuffer(FrameBuffer&& other) noexcept = default;
    FrameBuffer& operator=(FrameBuffer&& other) noexcept;
    FrameBuffer(const FrameBuffer&) = delete;
    FrameBuffer& operator=(const FrameBuffer&) = delete;
    ~FrameBuffer();

    std::vector<std::uint8_t>& bytes() { return bytes_; }
    const std::vector<std::uint8_t>& bytes() const { return bytes_; }
    // Grows the buffer, wiping the old storage if it moves.
    void append(const std::uint8_t* data, size_t size);
    void wipe();

  private:
    std::vector<std::uint8_t> bytes_;
};

// The payload length in a frame's prefix; nullopt if it exceeds kMaxFrame or is shorter than a
// header.
std::optional<size_t> frame_payload_length(std::span<const std::uint8_t, kLengthPrefix> prefix);

struct FrameHeader {
    std::uint32_t call_id = 0;
    std::uint16_t call = 0;
};
// The header at the start of a payload; nullopt if too short.
std::optional<FrameHeader> read_frame_header(std::span<const std::uint8_t> payload);

}  // namespace attache::p11::module_helper
