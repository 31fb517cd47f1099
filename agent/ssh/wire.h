#pragma once

// The SSH wire encoding (RFC 4251 section 5) as the agent protocol uses it: byte, boolean,
// uint32 (big-endian), string (uint32 length + that many bytes) and mpint.
//
// Reader is a bounded cursor over bytes someone else owns. Every read first checks that the
// bytes it needs are really there, so it never reads past the end, and it never allocates:
// strings come back as views into the underlying span. A lying length (larger than what is
// left, 0xFFFFFFFF, ...) is an Error, not an allocation.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::ssh {

using ByteView = std::span<const std::uint8_t>;

// The bytes of a string field seen as characters (no copy).
inline std::string_view as_chars(ByteView bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
inline ByteView as_bytes(std::string_view chars) {
    return {reinterpret_cast<const std::uint8_t*>(chars.data()), chars.size()};
}

class Reader {
  public:
    explicit Reader(ByteView data) : data_(data) {}

    Result<std::uint8_t> u8();
    Result<std::uint32_t> u32();
    // RFC 4251: any non-zero byte is true.
    Result<bool> boolean();
    // A uint32 length and that many bytes; the view points into the reader's span.
    Result<ByteView> string();
    // Exactly n raw bytes.
    Result<ByteView> bytes(size_t n);
    // Everything not read yet; the reader is then at its end.
    ByteView rest();

    size_t remaining() const { return data_.size() - pos_; }
    bool at_end() const { return pos_ == data_.size(); }
    // Success when every byte has been read; otherwise names how many are left over.
    Status expect_end() const;

  private:
    ByteView data_;
    size_t pos_ = 0;
};

// A string field that OpenSSH reads with sshbuf_get_cstring: no NUL byte inside. `field` names
// it in errors.
Result<std::string> read_text(Reader& r, std::string_view field);

// Appends fields to a growing byte vector.
class Writer {
  public:
    Writer& u8(std::uint8_t v);
    Writer& u32(std::uint32_t v);
    Writer& boolean(bool v);
    // Precondition: bytes.size() fits in a uint32 (every caller is far below kMaxFrameSize);
    // a larger one aborts the process rather than writing a wrong length.
    Writer& string(ByteView bytes);
    Writer& string(std::string_view chars) { return string(as_bytes(chars)); }
    // Bytes with no length prefix.
    Writer& raw(ByteView bytes);
    // An mpint from an unsigned big-endian magnitude: leading zero bytes are dropped, and a
    // 0x00 is put in front when the top bit is set so the value stays positive; zero is the
    // empty string.
    Writer& mpint(ByteView magnitude);

    const Bytes& bytes() const { return out_; }
    Bytes take() { return std::move(out_); }

  private:
    Bytes out_;
};

}  // namespace attache::ssh
