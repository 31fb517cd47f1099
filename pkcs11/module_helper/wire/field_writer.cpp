#include "pkcs11/module_helper/wire/field_writer.h"

#include "pkcs11/module_helper/wire/limits.h"

namespace attache::p11::module_helper {

FieldWriter::FieldWriter(CallId call, std::uint32_t call_id) {
    frame_.bytes().reserve(256);
    u32(0);  // length, set by finish()
    u32(call_id);
    const auto c = static_cast<std::uint16_t>(call);
    const std::uint8_t b[2] = {static_cast<std::uint8_t>(c >> 8), static_cast<std::uint8_t>(c)};
    frame_.append(b, 2);
}

void FieldWriter::tag(FieldTag t) {
    const auto b = static_cast<std::uint8_t>(t);
    frame_.append(&b, 1);
}

void FieldWriter::u32(std::uint32_t v) {
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24),
                               static_cast<std::uint8_t>(v >> 16),
                               static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    frame_.append(b, 4);
}

void FieldWriter::u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
}

void FieldWriter::ulong(CK_ULONG value) {
    tag(FieldTag::ulong);
    u64(value);
}

void FieldWriter::bytes(const void* data, CK_ULONG size) {
    if (data == nullptr) {
        if (size != 0)
            failed_ = true;
        null();
        return;
    }
    if (size > kMaxData) {
        failed_ = true;
        return;
    }
    tag(FieldTag::bytes);
    u32(static_cast<std::uint32_t>(size));
    frame_.append(static_cast<const std::uint8_t*>(data), size);
}

void FieldWriter::null() {
    tag(FieldTag::null);
}

void FieldWriter::list(std::span<const CK_ULONG> values) {
    if (values.size() > kMaxList) {
        failed_ = true;
        return;
    }
    tag(FieldTag::list);
    u32(static_cast<std::uint32_t>(values.size()));
    for (CK_ULONG v : values)
        u64(v);
}

void FieldWriter::count(size_t n) {
    if (n > kMaxAttributes) {
        failed_ = true;
        return;
    }
    tag(FieldTag::count);
    u32(static_cast<std::uint32_t>(n));
}

void FieldWriter::set_call_id(FrameBuffer& frame, std::uint32_t call_id) {
    auto& b = frame.bytes();
    b[4] = static_cast<std::uint8_t>(call_id >> 24);
    b[5] = static_cast<std::uint8_t>(call_id >> 16);
    b[6] = static_cast<std::uint8_t>(call_id >> 8);
    b[7] = static_cast<std::uint8_t>(call_id);
}

std::optional<FrameBuffer> FieldWriter::finish() {
    auto& b = frame_.bytes();
    const size_t payload = b.size() - kLengthPrefix;
    if (failed_ || payload > kMaxFrame)
        return std::nullopt;
    b[0] = static_cast<std::uint8_t>(payload >> 24);
    b[1] = static_cast<std::uint8_t>(payload >> 16);
    b[2] = static_cast<std::uint8_t>(payload >> 8);
    b[3] = static_cast<std::uint8_t>(payload);
    return std::move(frame_);
}

}  // namespace attache::p11::module_helper
