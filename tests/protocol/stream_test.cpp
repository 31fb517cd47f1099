// stream::read_frame and friends over a socketpair: whole and split frames, a peer closing
// before or in the middle of a frame, hostile length prefixes, stalled frames.
//
// Timeouts here are upper bounds that turn a regression into a failure instead of a hang; no
// test asserts how long anything took.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/agent_protocol/stream_io.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/protocol/alloc_watch.h"
#include "tests/support/socket_pair.h"

namespace attache::stream {
namespace {

using protocol::kMaxMessageSize;

// Generous bound for frames that should arrive: a regression fails instead of hanging.
constexpr int kPatienceMs = 10'000;
// The frame timeout for tests where the frame never completes.
constexpr int kShortFrameTimeoutMs = 200;

using testing::socket_pair;

Bytes prefix(uint32_t len) {
    return Bytes{static_cast<uint8_t>(len >> 24), static_cast<uint8_t>(len >> 16),
                 static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
}

Bytes frame_of(const Bytes& body) {
    Bytes f = prefix(static_cast<uint32_t>(body.size()));
    f.insert(f.end(), body.begin(), body.end());
    return f;
}

void send_bytes(int fd, const Bytes& b) {
    ASSERT_TRUE(write_all(fd, b));
}

TEST(StreamReadFrame, WholeFrame) {
    auto p = socket_pair();
    const Bytes frame = protocol::encode_request(3, protocol::RandomRequest{16});
    send_bytes(p.writer.get(), frame);
    auto body = read_frame(p.reader.get(), kPatienceMs, kPatienceMs);
    ASSERT_TRUE(body) << body.error().message();
    EXPECT_EQ(*body, Bytes(frame.begin() + 4, frame.end()));
    auto decoded = protocol::decode_request(*body);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->id, 3u);
}

TEST(StreamReadFrame, BackToBackFramesInOneWrite) {
    auto p = socket_pair();
    Bytes both = frame_of({1, 2, 3});
    const Bytes second = frame_of({4});
    both.insert(both.end(), second.begin(), second.end());
    send_bytes(p.writer.get(), both);
    auto a = read_frame(p.reader.get(), -1, kPatienceMs);
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_EQ(*a, (Bytes{1, 2, 3}));
    auto b = read_frame(p.reader.get(), -1, kPatienceMs);
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(*b, (Bytes{4}));
}

TEST(StreamReadFrame, FrameSplitAcrossWrites) {
    auto p = socket_pair();
    Bytes body(5000);
    for (size_t i = 0; i < body.size(); ++i)
        body[i] = static_cast<uint8_t>(i * 31);
    const Bytes frame = frame_of(body);
    // Pieces that cut the prefix and the body: 1 + 2 + 1 prefix bytes, then the body in parts.
    const std::vector<size_t> cuts = {1, 3, 4, 5, 1000, 4999, frame.size()};
    std::thread writer([&] {
        size_t from = 0;
        for (size_t to : cuts) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            (void)write_all(p.writer.get(), frame.data() + from, to - from);
            from = to;
        }
    });
    auto got = read_frame(p.reader.get(), kPatienceMs, kPatienceMs);
    writer.join();
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, body);
}

TEST(StreamReadFrame, MaximumSize) {
    auto p = socket_pair();
    const Bytes body(kMaxMessageSize, 0x42);
    std::thread writer([&] { (void)write_all(p.writer.get(), frame_of(body)); });
    auto got = read_frame(p.reader.get(), kPatienceMs, kPatienceMs);
    writer.join();
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->size(), kMaxMessageSize);
}

TEST(StreamReadFrame, CleanCloseBeforeAFrame) {
    auto p = socket_pair();
    p.writer.reset();
    auto got = read_frame(p.reader.get(), -1, kPatienceMs);
    ASSERT_FALSE(got);
    EXPECT_TRUE(is_closed(got.error())) << got.error().message();
}

TEST(StreamReadFrame, CleanCloseAfterAFrame) {
    auto p = socket_pair();
    send_bytes(p.writer.get(), frame_of({9}));
    p.writer.reset();
    ASSERT_TRUE(read_frame(p.reader.get(), -1, kPatienceMs));
    auto got = read_frame(p.reader.get(), -1, kPatienceMs);
    ASSERT_FALSE(got);
    EXPECT_TRUE(is_closed(got.error())) << got.error().message();
}

// The peer sends the first `sent` bytes of a frame and closes: an error that is not a clean
// close, with no hang (no frame timeout: only the close can end the read).
void expect_close_mid_frame(size_t sent) {
    SCOPED_TRACE("closed after " + std::to_string(sent) + " bytes");
    auto p = socket_pair();
    const Bytes frame = frame_of(Bytes(10, 0x33));
    ASSERT_LT(sent, frame.size());
    send_bytes(p.writer.get(),
               Bytes(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(sent)));
    p.writer.reset();
    auto got = read_frame(p.reader.get(), -1, -1);
    ASSERT_FALSE(got);
    EXPECT_FALSE(is_closed(got.error())) << got.error().message();
}

TEST(StreamReadFrame, PeerClosesMidFrame) {
    for (size_t sent : {1, 2, 3, 4, 5, 13})
        expect_close_mid_frame(sent);
}

TEST(StreamReadFrame, PeerClosesMidFrameFromAnotherThread) {
    auto p = socket_pair();
    std::thread writer([&] {
        (void)write_all(p.writer.get(), Bytes{0, 0, 0, 100, 1, 2, 3});
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        p.writer.reset();
    });
    auto got = read_frame(p.reader.get(), -1, kPatienceMs);
    writer.join();
    ASSERT_FALSE(got);
    EXPECT_FALSE(is_closed(got.error())) << got.error().message();
}

TEST(StreamReadFrame, OversizeLengthPrefixIsNotAllocated) {
    for (uint32_t len : {static_cast<uint32_t>(kMaxMessageSize + 1), 0x10000000u, 0xffffffffu}) {
        SCOPED_TRACE(len);
        auto p = socket_pair();
        send_bytes(p.writer.get(), prefix(len));
        protocol::testing::AllocWatch watch;
        auto got = read_frame(p.reader.get(), kPatienceMs, kPatienceMs);
        const size_t largest = watch.largest();
        ASSERT_FALSE(got);
        EXPECT_FALSE(is_closed(got.error()));
        EXPECT_LT(largest, 4096u) << "allocated for a length it refused";
    }
}

TEST(StreamReadFrame, AllocatesOnlyTheAnnouncedLength) {
    auto p = socket_pair();
    send_bytes(p.writer.get(), frame_of(Bytes(100, 1)));
    protocol::testing::AllocWatch watch;
    auto got = read_frame(p.reader.get(), kPatienceMs, kPatienceMs);
    const size_t largest = watch.largest();
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_LT(largest, 4096u);
}

TEST(StreamReadFrame, ZeroLengthPrefix) {
    auto p = socket_pair();
    send_bytes(p.writer.get(), prefix(0));
    auto got = read_frame(p.reader.get(), kPatienceMs, kPatienceMs);
    ASSERT_FALSE(got);
    EXPECT_FALSE(is_closed(got.error()));
}

TEST(StreamReadFrame, StalledBodyTimesOut) {
    auto p = socket_pair();
    send_bytes(p.writer.get(), Bytes{0, 0, 0, 50, 1, 2, 3});  // then nothing, socket open
    auto got = read_frame(p.reader.get(), -1, kShortFrameTimeoutMs);
    ASSERT_FALSE(got);
    EXPECT_FALSE(is_closed(got.error())) << got.error().message();
}

TEST(StreamReadFrame, StalledPrefixTimesOut) {
    auto p = socket_pair();
    send_bytes(p.writer.get(), Bytes{0, 0});
    auto got = read_frame(p.reader.get(), -1, kShortFrameTimeoutMs);
    ASSERT_FALSE(got);
    EXPECT_FALSE(is_closed(got.error())) << got.error().message();
}

TEST(StreamReadFrame, IdleTimeout) {
    auto p = socket_pair();
    auto got = read_frame(p.reader.get(), kShortFrameTimeoutMs, kShortFrameTimeoutMs);
    ASSERT_FALSE(got);
    EXPECT_FALSE(is_closed(got.error())) << got.error().message();
}

TEST(StreamReadFrame, TrickleStillEndsAtTheFrameTimeout) {
    // A peer sending one byte at a time, slower than the frame allows, cannot hold the reader
    // past the frame timeout: the deadline covers the whole frame, not each byte.
    auto p = socket_pair();
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        (void)write_all(p.writer.get(), prefix(1000));
        for (int i = 0; i < 500 && !stop; ++i) {
            const uint8_t b = 0x55;
            if (!write_all(p.writer.get(), &b, 1))
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    auto got = read_frame(p.reader.get(), -1, kShortFrameTimeoutMs);
    stop = true;
    writer.join();
    ASSERT_FALSE(got);
    EXPECT_FALSE(is_closed(got.error())) << got.error().message();
}

TEST(StreamReadExact, ReadsAndReportsCleanClose) {
    auto p = socket_pair();
    send_bytes(p.writer.get(), Bytes{1, 2, 3});
    uint8_t buf[3] = {};
    ASSERT_TRUE(read_exact(p.reader.get(), buf, 3, kPatienceMs));
    EXPECT_EQ(buf[2], 3);
    p.writer.reset();
    auto closed = read_exact(p.reader.get(), buf, 1, kPatienceMs);
    ASSERT_FALSE(closed);
    EXPECT_TRUE(is_closed(closed.error()));
}

TEST(StreamReadExact, CloseMidReadIsNotClean) {
    auto p = socket_pair();
    send_bytes(p.writer.get(), Bytes{1});
    p.writer.reset();
    uint8_t buf[2];
    auto got = read_exact(p.reader.get(), buf, 2, kPatienceMs);
    ASSERT_FALSE(got);
    EXPECT_FALSE(is_closed(got.error()));
}

TEST(StreamReadExact, Timeout) {
    auto p = socket_pair();
    uint8_t buf[1];
    auto got = read_exact(p.reader.get(), buf, 1, kShortFrameTimeoutMs);
    ASSERT_FALSE(got);
    EXPECT_FALSE(is_closed(got.error()));
}

TEST(StreamWriteAll, PeerGoneIsAnErrorNotSigpipe) {
    auto p = socket_pair();
    p.reader.reset();
    // Without MSG_NOSIGNAL this would kill the test process with SIGPIPE.
    auto sent = write_all(p.writer.get(), Bytes(100, 0));
    EXPECT_FALSE(sent);
}

}  // namespace
}  // namespace attache::stream
