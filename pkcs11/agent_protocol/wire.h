#pragma once

// Bounded reading and writing of the big-endian binary encodings Attache's protocols use
// (the native protocol and the SSH agent protocol share them): u8, u32, u64 and
// length-prefixed byte strings. Every read checks what remains and fails without reading past
// the end; nothing is allocated beyond the bytes actually present.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pkcs11/bytes.h"

namespace attache::wire {

class Reader {
  public:
    explicit Reader(std::span<const uint8_t> data) : data_(data) {}

    // Each returns false (and reads nothing) when the data is too short.
    bool u8(uint8_t& out);
    bool u32(uint32_t& out);
    bool u64(uint64_t& out);
    bool boolean(bool& out);  // one byte, 0 or 1; anything else is an error
    // u32 length, then that many bytes. `max` bounds the length a peer may claim.
    bool string(std::span<const uint8_t>& out, size_t max = SIZE_MAX);
    bool bytes(Bytes& out, size_t max = SIZE_MAX);
    bool text(std::string& out, size_t max = SIZE_MAX);

    size_t remaining() const { return data_.size() - pos_; }
    bool at_end() const { return pos_ == data_.size(); }

  private:
    std::span<const uint8_t> data_;
    size_t pos_ = 0;
};

class Writer {
  public:
    Writer& u8(uint8_t v);
    Writer& u32(uint32_t v);
    Writer& u64(uint64_t v);
    Writer& boolean(bool v) { return u8(v ? 1 : 0); }
    Writer& string(std::span<const uint8_t> v);
    Writer& string(std::string_view v);
    Writer& raw(std::span<const uint8_t> v);

    const Bytes& data() const { return out_; }
    Bytes take() { return std::move(out_); }
    // Writes the current size minus `offset` as a u32 at `offset` (for a frame length prefix
    // reserved with u32(0)).
    void patch_length(size_t offset);

  private:
    Bytes out_;
};

}  // namespace attache::wire
