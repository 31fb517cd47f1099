#include "pkcs11/agent_protocol/stream_io.h"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "pkcs11/agent_protocol/codec.h"

namespace attache::stream {
namespace {

constexpr const char* kClosed = "connection closed";

int64_t now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// Waits until fd is readable (deadline_ms < 0: forever); false on timeout.
//
// Every wait for data is a poll() for POLLIN, never a blocking recv(): when the peer consumes
// what this side sent, the kernel signals "write space" on this socket's wait queue, which
// wakes a thread blocked in recv() for nothing (a wake-up of an idle CPU, an IPI; in a VM a
// vCPU exit on both sides), while a poll() waiting for POLLIN filters it out. Measured on
// 2 vCPUs: blocking recv() on both sides turned each request into four cross-CPU wake-ups.
bool wait_readable(int fd, int64_t deadline_ms) {
    for (;;) {
        int timeout = -1;
        if (deadline_ms >= 0) {
            int64_t left = deadline_ms - now_ms();
            if (left <= 0)
                return false;
            timeout = static_cast<int>(left);
        }
        pollfd p{fd, POLLIN, 0};
        int r = poll(&p, 1, timeout);
        if (r > 0)
            return true;
        if (r == 0)
            return false;
        if (errno != EINTR)
            return true;  // let recv() report the error
    }
}

// One recv() of up to `size` bytes, waiting (until the deadline; < 0: forever) for some to
// arrive. Returns what recv() returned; -1 with errno ETIMEDOUT when the deadline passed.
ssize_t receive_some(int fd, uint8_t* data, size_t size, int64_t deadline_ms) {
    for (;;) {
        // Try first: the bytes are usually there already, and then no poll() is needed.
        ssize_t n = recv(fd, data, size, MSG_DONTWAIT);
        if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return n;
        if (errno == EINTR)
            continue;
        if (!wait_readable(fd, deadline_ms)) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
}

// `at_start`: these bytes begin a message, so an end of stream before the first of them is a
// clean close; otherwise the peer went away in the middle of a message.
Status read_until(int fd, uint8_t* data, size_t size, int64_t deadline_ms, bool at_start) {
    size_t done = 0;
    while (done < size) {
        ssize_t n = receive_some(fd, data + done, size - done, deadline_ms);
        if (n > 0) {
            done += static_cast<size_t>(n);
        } else if (n == 0) {
            return Error(done == 0 && at_start ? kClosed
                                               : "connection closed in the middle of a message");
        } else if (errno == ETIMEDOUT) {
            return Error("timed out reading a message");
        } else {
            return Error(std::string("read failed: ") + std::strerror(errno));
        }
    }
    return ok();
}

}  // namespace

bool is_closed(const Error& e) {
    return e.message() == kClosed;
}

Status write_all(int fd, const uint8_t* data, size_t size) {
    size_t done = 0;
    while (done < size) {
        ssize_t n = send(fd, data + done, size - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += static_cast<size_t>(n);
        } else if (n < 0 && errno != EINTR) {
            return Error(std::string("write failed: ") + std::strerror(errno));
        }
    }
    return ok();
}

Status read_exact(int fd, uint8_t* data, size_t size, int timeout_ms) {
    return read_until(fd, data, size, timeout_ms < 0 ? -1 : now_ms() + timeout_ms, true);
}

Result<Bytes> read_frame(int fd, int idle_timeout_ms, int frame_timeout_ms) {
    // Wait (without a deadline unless one was given) for the start of a message; one recv()
    // usually brings the whole prefix.
    uint8_t prefix[4];
    const int64_t idle_deadline = idle_timeout_ms < 0 ? -1 : now_ms() + idle_timeout_ms;
    ssize_t n = receive_some(fd, prefix, sizeof prefix, idle_deadline);
    if (n == 0)
        return Error(kClosed);  // a clean close between messages
    if (n < 0 && errno == ETIMEDOUT)
        return Error("timed out waiting for a message");
    if (n < 0)
        return Error(std::string("read failed: ") + std::strerror(errno));
    const size_t got = static_cast<size_t>(n);
    const int64_t deadline = frame_timeout_ms < 0 ? -1 : now_ms() + frame_timeout_ms;
    // Once a message has begun, a close is an error (not is_closed()).
    ATTACHE_CHECK(read_until(fd, prefix + got, sizeof prefix - got, deadline, false));
    ATTACHE_TRY(uint32_t len, protocol::frame_length(std::span<const uint8_t, 4>(prefix, 4)));
    Bytes body(len);
    ATTACHE_CHECK(read_until(fd, body.data(), len, deadline, false));
    return body;
}

}  // namespace attache::stream
