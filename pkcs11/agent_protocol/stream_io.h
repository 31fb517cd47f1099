#pragma once

// Whole-buffer reads and writes on a stream socket, retrying on EINTR. Writes use
// MSG_NOSIGNAL: a peer that went away must never kill the process with SIGPIPE (the
// forwarding module runs inside applications).

#include <cstddef>
#include <cstdint>
#include <optional>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::stream {

Status write_all(int fd, const uint8_t* data, size_t size);
inline Status write_all(int fd, const Bytes& b) {
    return write_all(fd, b.data(), b.size());
}

// Reads exactly `size` bytes. `timeout_ms` < 0 waits forever; otherwise the whole read must
// finish within it. Error "closed" at a clean end of stream before the first byte.
Status read_exact(int fd, uint8_t* data, size_t size, int timeout_ms = -1);

// Reads one frame body (u32 length prefix, checked against kMaxMessageSize). The wait for the
// first byte of the prefix is unbounded when `idle_timeout_ms` < 0; once a frame has begun, the
// rest must arrive within `frame_timeout_ms`.
Result<Bytes> read_frame(int fd, int idle_timeout_ms, int frame_timeout_ms);

// True when the error came from the peer closing the connection cleanly.
bool is_closed(const Error& e);

}  // namespace attache::stream
