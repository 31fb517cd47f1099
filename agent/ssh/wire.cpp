#include "agent/ssh/wire.h"

#include <algorithm>

#include <cstdlib>
#include <limits>
#include <string>

namespace attache::ssh {
namespace {

Error truncated(size_t needed, size_t left) {
    return Error("truncated: needs " + std::to_string(needed) + " bytes, " + std::to_string(left) +
                 " left");
}

}  // namespace

Result<std::uint8_t> Reader::u8() {
    if (remaining() < 1)
        return truncated(1, remaining());
    return data_[pos_++];
}

Result<std::uint32_t> Reader::u32() {
    if (remaining() < 4)
        return truncated(4, remaining());
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v = (v << 8) | data_[pos_++];
    return v;
}

Result<bool> Reader::boolean() {
    ATTACHE_TRY(std::uint8_t b, u8());
    return b != 0;
}

Result<ByteView> Reader::string() {
    if (remaining() < 4)
        return truncated(4, remaining());
    const size_t start = pos_;
    ATTACHE_TRY(std::uint32_t length, u32());
    if (length > remaining()) {
        pos_ = start;  // a failed read consumes nothing
        return Error("string length " + std::to_string(length) + " exceeds the " +
                     std::to_string(remaining()) + " bytes left");
    }
    ByteView s = data_.subspan(pos_, length);
    pos_ += length;
    return s;
}

Result<ByteView> Reader::bytes(size_t n) {
    if (n > remaining())
        return truncated(n, remaining());
    ByteView s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
}

ByteView Reader::rest() {
    ByteView s = data_.subspan(pos_);
    pos_ = data_.size();
    return s;
}

Status Reader::expect_end() const {
    if (!at_end())
        return Error(std::to_string(remaining()) + " trailing bytes after the message");
    return ok();
}

Writer& Writer::u8(std::uint8_t v) {
    out_.push_back(v);
    return *this;
}

Writer& Writer::u32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out_.push_back(static_cast<std::uint8_t>(v >> shift));
    return *this;
}

Writer& Writer::boolean(bool v) {
    return u8(v ? 1 : 0);
}

Writer& Writer::string(ByteView bytes) {
    if (bytes.size() > std::numeric_limits<std::uint32_t>::max())
        std::abort();  // cannot be expressed on the wire; see the precondition in wire.h
    u32(static_cast<std::uint32_t>(bytes.size()));
    return raw(bytes);
}

Writer& Writer::raw(ByteView bytes) {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
    return *this;
}

Writer& Writer::mpint(ByteView magnitude) {
    size_t skip = 0;
    while (skip < magnitude.size() && magnitude[skip] == 0)
        ++skip;
    ByteView digits = magnitude.subspan(skip);
    const bool pad = !digits.empty() && (digits[0] & 0x80) != 0;
    u32(static_cast<std::uint32_t>(digits.size() + (pad ? 1 : 0)));
    if (pad)
        u8(0);
    return raw(digits);
}

Result<std::string> read_text(Reader& r, std::string_view field) {
    auto bytes = r.string();
    if (!bytes)
        return std::move(bytes).error().context(field);
    if (std::find(bytes->begin(), bytes->end(), 0) != bytes->end())
        return Error(std::string(field) + " contains a NUL byte");
    return std::string(as_chars(*bytes));
}

}  // namespace attache::ssh
