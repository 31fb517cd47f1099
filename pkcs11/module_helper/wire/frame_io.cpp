#include "pkcs11/module_helper/wire/frame_io.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace attache::p11::module_helper {
namespace {

bool read_exact(int fd, std::uint8_t* out, size_t size, bool& eof_at_start) {
    size_t done = 0;
    eof_at_start = false;
    while (done < size) {
        const ssize_t n = ::read(fd, out + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            eof_at_start = n == 0 && done == 0;
            return false;
        }
        done += static_cast<size_t>(n);
    }
    return true;
}

}  // namespace

bool write_frame(int fd, const FrameBuffer& frame) {
    const auto& b = frame.bytes();
    size_t done = 0;
    while (done < b.size()) {
        const ssize_t n = ::send(fd, b.data() + done, b.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

ReadStatus read_frame(int fd, FrameBuffer& payload) {
    std::uint8_t prefix[kLengthPrefix];
    bool eof = false;
    if (!read_exact(fd, prefix, sizeof prefix, eof))
        return eof ? ReadStatus::end : ReadStatus::error;
    auto length = frame_payload_length(std::span<const std::uint8_t, kLengthPrefix>(prefix));
    if (!length)
        return ReadStatus::oversized;
    payload = FrameBuffer(*length);
    if (!read_exact(fd, payload.bytes().data(), *length, eof))
        return ReadStatus::error;
    return ReadStatus::frame;
}

void FrameAssembler::feed(const std::uint8_t* data, size_t size) {
    auto& b = pending_.bytes();
    if (start_ > 0) {
        // Drop what was consumed; keep the partial frame at the front.
        std::memmove(b.data(), b.data() + start_, b.size() - start_);
        b.resize(b.size() - start_);
        start_ = 0;
    }
    pending_.append(data, size);
}

std::optional<FrameBuffer> FrameAssembler::next() {
    auto& b = pending_.bytes();
    if (bad_ || b.size() - start_ < kLengthPrefix)
        return std::nullopt;
    auto length = frame_payload_length(
        std::span<const std::uint8_t, kLengthPrefix>(b.data() + start_, kLengthPrefix));
    if (!length) {
        bad_ = true;
        return std::nullopt;
    }
    if (b.size() - start_ - kLengthPrefix < *length)
        return std::nullopt;
    FrameBuffer out;
    out.append(b.data() + start_ + kLengthPrefix, *length);
    start_ += kLengthPrefix + *length;
    if (start_ == b.size()) {
        pending_.wipe();
        b.clear();
        start_ = 0;
    }
    return out;
}

}  // namespace attache::p11::module_helper
