#include "pkcs11/agent_protocol/wire.h"

namespace attache::wire {

bool Reader::u8(uint8_t& out) {
    if (remaining() < 1)
        return false;
    out = data_[pos_++];
    return true;
}

bool Reader::u32(uint32_t& out) {
    if (remaining() < 4)
        return false;
    out = (uint32_t{data_[pos_]} << 24) | (uint32_t{data_[pos_ + 1]} << 16) |
          (uint32_t{data_[pos_ + 2]} << 8) | uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return true;
}

bool Reader::u64(uint64_t& out) {
    uint32_t hi, lo;
    if (remaining() < 8)
        return false;
    u32(hi);
    u32(lo);
    out = (uint64_t{hi} << 32) | lo;
    return true;
}

bool Reader::boolean(bool& out) {
    uint8_t b;
    if (remaining() < 1 || data_[pos_] > 1)
        return false;
    u8(b);
    out = b == 1;
    return true;
}

bool Reader::string(std::span<const uint8_t>& out, size_t max) {
    if (remaining() < 4)
        return false;
    const size_t start = pos_;
    uint32_t len;
    u32(len);
    if (len > remaining() || len > max) {
        pos_ = start;
        return false;
    }
    out = data_.subspan(pos_, len);
    pos_ += len;
    return true;
}

bool Reader::bytes(Bytes& out, size_t max) {
    std::span<const uint8_t> s;
    if (!string(s, max))
        return false;
    out.assign(s.begin(), s.end());
    return true;
}

bool Reader::text(std::string& out, size_t max) {
    std::span<const uint8_t> s;
    if (!string(s, max))
        return false;
    out.assign(s.begin(), s.end());
    return true;
}

Writer& Writer::u8(uint8_t v) {
    out_.push_back(v);
    return *this;
}

Writer& Writer::u32(uint32_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 24));
    out_.push_back(static_cast<uint8_t>(v >> 16));
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
    return *this;
}

Writer& Writer::u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    return u32(static_cast<uint32_t>(v));
}

Writer& Writer::string(std::span<const uint8_t> v) {
    u32(static_cast<uint32_t>(v.size()));
    return raw(v);
}

Writer& Writer::string(std::string_view v) {
    return string(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
}

Writer& Writer::raw(std::span<const uint8_t> v) {
    out_.insert(out_.end(), v.begin(), v.end());
    return *this;
}

void Writer::patch_length(size_t offset) {
    const uint32_t len = static_cast<uint32_t>(out_.size() - offset - 4);
    out_[offset] = static_cast<uint8_t>(len >> 24);
    out_[offset + 1] = static_cast<uint8_t>(len >> 16);
    out_[offset + 2] = static_cast<uint8_t>(len >> 8);
    out_[offset + 3] = static_cast<uint8_t>(len);
}

}  // namespace attache::wire
