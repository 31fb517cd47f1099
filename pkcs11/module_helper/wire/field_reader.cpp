#include "pkcs11/module_helper/wire/field_reader.h"

#include <limits>

#include "pkcs11/module_helper/wire/limits.h"

namespace attache::p11::module_helper {

FieldReader::FieldReader(std::span<std::uint8_t> payload) : data_(payload) {
    if (payload.size() < kFrameHeader)
        failed_ = true;
    else
        pos_ = kFrameHeader;
}

bool FieldReader::take_tag(FieldTag t) {
    if (failed_ || pos_ >= data_.size() || data_[pos_] != static_cast<std::uint8_t>(t)) {
        failed_ = true;
        return false;
    }
    ++pos_;
    return true;
}

bool FieldReader::next_is_null() const {
    return !failed_ && pos_ < data_.size() &&
           data_[pos_] == static_cast<std::uint8_t>(FieldTag::null);
}

std::uint32_t FieldReader::u32() {
    if (failed_ || data_.size() - pos_ < 4) {
        failed_ = true;
        return 0;
    }
    const std::uint32_t v = (std::uint32_t{data_[pos_]} << 24) |
                            (std::uint32_t{data_[pos_ + 1]} << 16) |
                            (std::uint32_t{data_[pos_ + 2]} << 8) | std::uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return v;
}

std::uint64_t FieldReader::u64() {
    const std::uint64_t hi = u32();
    const std::uint64_t lo = u32();
    return (hi << 32) | lo;
}

CK_ULONG FieldReader::ulong() {
    if (!take_tag(FieldTag::ulong))
        return 0;
    const std::uint64_t v = u64();
    if (v > std::numeric_limits<CK_ULONG>::max()) {
        failed_ = true;
        return 0;
    }
    return static_cast<CK_ULONG>(v);
}

std::optional<std::span<std::uint8_t>> FieldReader::bytes() {
    if (next_is_null()) {
        ++pos_;
        return std::nullopt;
    }
    if (!take_tag(FieldTag::bytes))
        return std::nullopt;
    const std::uint32_t n = u32();
    if (failed_ || n > kMaxData || data_.size() - pos_ < n) {
        failed_ = true;
        return std::nullopt;
    }
    auto out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
}

std::vector<CK_ULONG> FieldReader::list(size_t max) {
    std::vector<CK_ULONG> out;
    if (!take_tag(FieldTag::list))
        return out;
    const std::uint32_t n = u32();
    if (failed_ || n > max || (data_.size() - pos_) / 8 < n) {
        failed_ = true;
        return out;
    }
    out.reserve(n);
    for (std::uint32_t i = 0; i < n && !failed_; ++i) {
        const std::uint64_t v = u64();
        if (v > std::numeric_limits<CK_ULONG>::max())
            failed_ = true;
        out.push_back(static_cast<CK_ULONG>(v));
    }
    return out;
}

size_t FieldReader::count(size_t max) {
    if (!take_tag(FieldTag::count))
        return 0;
    const std::uint32_t n = u32();
    if (failed_ || n > max) {
        failed_ = true;
        return 0;
    }
    return n;
}

}  // namespace attache::p11::module_helper
