#include "pkcs11/module_helper/wire/frame_buffer.h"

#include <openssl/crypto.h>

#include <cstring>

#include "pkcs11/module_helper/wire/limits.h"

namespace attache::p11::module_helper {

FrameBuffer& FrameBuffer::operator=(FrameBuffer&& other) noexcept {
    if (this != &other) {
        wipe();
        bytes_ = std::move(other.bytes_);
    }
    return *this;
}

FrameBuffer::~FrameBuffer() {
    wipe();
}

void FrameBuffer::wipe() {
    if (bytes_.capacity() > 0)
        OPENSSL_cleanse(bytes_.data(), bytes_.capacity());
}

void FrameBuffer::append(const std::uint8_t* data, size_t size) {
    if (size == 0)
        return;
    if (bytes_.size() + size > bytes_.capacity()) {
        std::vector<std::uint8_t> grown;
        grown.reserve(std::max(bytes_.capacity() * 2, bytes_.size() + size));
        grown.assign(bytes_.begin(), bytes_.end());
        wipe();
        bytes_.swap(grown);
    }
    bytes_.insert(bytes_.end(), data, data + size);
}

std::optional<size_t> frame_payload_length(std::span<const std::uint8_t, kLengthPrefix> prefix) {
    const size_t length = (size_t{prefix[0]} << 24) | (size_t{prefix[1]} << 16) |
                          (size_t{prefix[2]} << 8) | size_t{prefix[3]};
    if (length < kFrameHeader || length > kMaxFrame)
        return std::nullopt;
    return length;
}

std::optional<FrameHeader> read_frame_header(std::span<const std::uint8_t> payload) {
    if (payload.size() < kFrameHeader)
        return std::nullopt;
    FrameHeader h;
    h.call_id = (std::uint32_t{payload[0]} << 24) | (std::uint32_t{payload[1]} << 16) |
                (std::uint32_t{payload[2]} << 8) | std::uint32_t{payload[3]};
    h.call = static_cast<std::uint16_t>((payload[4] << 8) | payload[5]);
    return h;
}

}  // namespace attache::p11::module_helper
