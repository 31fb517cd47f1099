#include "agent/server/ssh_handler.h"

#include <openssl/crypto.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <optional>

#include "agent/core/log.h"
#include "agent/server/native_handler.h"
#include "agent/server/next_request_wait.h"
#include "agent/ssh/framing.h"
#include "agent/ssh/messages.h"
#include "pkcs11/agent_protocol/stream_io.h"

namespace attache::agent {
namespace {

// Feeds the splitter from the socket until it holds a complete frame; false on a close, an
// error, a bad frame length or a timeout. The wait for a frame's first byte is unbounded; once
// part of a frame has arrived, the rest must within kFrameTimeoutMs (as stream::read_frame).
// At most one buffer is read ahead of the frames not yet answered (backpressure).
bool receive_frame(int fd, ssh::FrameSplitter& splitter) {
    using Clock = std::chrono::steady_clock;
    std::optional<Clock::time_point> deadline;
    std::uint8_t buffer[4096];
    while (splitter.frames_ready() == 0) {
        if (splitter.failed())
            return false;
        if (splitter.partial() && !deadline)
            deadline = Clock::now() + std::chrono::milliseconds(kFrameTimeoutMs);
        // Try first: after NextRequestWait the bytes are usually there already.
        const ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0) {
            (void)splitter.feed(ssh::ByteView(buffer, static_cast<size_t>(n)));
            OPENSSL_cleanse(buffer, static_cast<size_t>(n));  // may hold a PIN or passphrase
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return false;
        int timeout_ms = -1;
        if (deadline) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
            if (left.count() <= 0)
                return false;
            timeout_ms = static_cast<int>(left.count());
        }
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) == 0)
            return false;
    }
    return true;
}

}  // namespace

void SshHandler::serve(int fd, const ClientFacts& client) {
    SshSession session(shared_, client);
    NextRequestWait next;
    DeferredAudit audit_records;  // written once each reply is sent
    ssh::FrameSplitter splitter;  // the SSH framer (fuzzed); wipes what it still holds
    for (;;) {
        if (!receive_frame(fd, splitter))
            return;  // closed, oversize or zero-length frame, timeout
        next.after_read();
        auto body = splitter.next();
        auto request = ssh::decode_request(*body);
        OPENSSL_cleanse(body->data(), body->size());  // may hold a PIN or passphrase
        Bytes reply = request ? session.handle(*request) : ssh::encode_failure();
        if (!stream::write_all(fd, reply))
            return;
        audit_records.flush();
        if (splitter.frames_ready() == 0)
            next.before_read(fd);
    }
}

}  // namespace attache::agent
