#include "agent/ssh/framing.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/ssh/alloc_probe.h"

namespace attache::ssh {
namespace {

Bytes cat(const std::vector<Bytes>& parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

std::vector<Bytes> drain(FrameSplitter& s) {
    std::vector<Bytes> out;
    while (auto f = s.next())
        out.push_back(std::move(*f));
    return out;
}

TEST(Frame, PrefixesTheLength) {
    EXPECT_EQ(frame(Bytes{11}), (Bytes{0, 0, 0, 1, 11}));
    EXPECT_EQ(frame(Bytes(300, 1)).size(), 304u);
    EXPECT_EQ(frame(Bytes(300, 1))[2], 1);
    EXPECT_EQ(frame(Bytes(300, 1))[3], 44);
}

TEST(FrameSplitter, OneFrameAtOnce) {
    FrameSplitter s;
    ASSERT_TRUE(s.feed(frame(Bytes{11})));
    EXPECT_FALSE(s.partial());
    auto frames = drain(s);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0], Bytes{11});
    EXPECT_FALSE(s.next());
}

TEST(FrameSplitter, ByteAtATime) {
    const Bytes a = {13, 1, 2, 3, 4, 5};
    const Bytes b(1000, 0x5a);
    const Bytes stream = cat({frame(a), frame(b)});
    FrameSplitter s;
    std::vector<Bytes> frames;
    for (size_t i = 0; i < stream.size(); ++i) {
        ASSERT_TRUE(s.feed(ByteView(&stream[i], 1)));
        const bool ends_a = i + 1 == frame(a).size();
        const bool ends_b = i + 1 == stream.size();
        EXPECT_EQ(s.frames_ready(), (ends_a || ends_b) ? 1u : 0u) << i;
        EXPECT_EQ(s.partial(), !(ends_a || ends_b)) << i;
        for (Bytes& f : drain(s))
            frames.push_back(std::move(f));
    }
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0], a);
    EXPECT_EQ(frames[1], b);
}

TEST(FrameSplitter, TwoFramesInOneChunk) {
    FrameSplitter s;
    ASSERT_TRUE(s.feed(cat({frame(Bytes{11}), frame(Bytes{19})})));
    auto frames = drain(s);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0], Bytes{11});
    EXPECT_EQ(frames[1], Bytes{19});
}

TEST(FrameSplitter, ChunksCuttingFramesAnywhere) {
    const Bytes stream = cat({frame(Bytes{11}), frame(Bytes(77, 3)), frame(Bytes{19, 0})});
    for (size_t cut1 = 0; cut1 <= stream.size(); ++cut1) {
        for (size_t cut2 = cut1; cut2 <= stream.size(); cut2 += 5) {
            FrameSplitter s;
            ByteView v(stream);
            ASSERT_TRUE(s.feed(v.subspan(0, cut1)));
            ASSERT_TRUE(s.feed(v.subspan(cut1, cut2 - cut1)));
            ASSERT_TRUE(s.feed(v.subspan(cut2)));
            auto frames = drain(s);
            ASSERT_EQ(frames.size(), 3u) << cut1 << " " << cut2;
            EXPECT_EQ(frames[1], Bytes(77, 3));
            EXPECT_FALSE(s.partial());
        }
    }
}

TEST(FrameSplitter, ZeroLengthIsAProtocolError) {
    FrameSplitter s;
    auto st = s.feed(Bytes{0, 0, 0, 0, 11});
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("length 0"), std::string::npos) << st.error().message();
    EXPECT_TRUE(s.failed());
    // It stays failed.
    EXPECT_FALSE(s.feed(frame(Bytes{11})));
    EXPECT_FALSE(s.next());
}

TEST(FrameSplitter, OversizeLengthIsAProtocolError) {
    FrameSplitter s;
    const std::uint32_t n = kMaxFrameSize + 1;
    const Bytes header = {std::uint8_t(n >> 24), std::uint8_t(n >> 16), std::uint8_t(n >> 8),
                          std::uint8_t(n)};
    auto st = s.feed(header);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("exceeds"), std::string::npos) << st.error().message();
    EXPECT_TRUE(s.failed());

    FrameSplitter lie;
    EXPECT_FALSE(lie.feed(Bytes{0xff, 0xff, 0xff, 0xff}));
}

TEST(FrameSplitter, LargestFrameIsAccepted) {
    FrameSplitter s;
    const Bytes body(kMaxFrameSize, 0x42);
    ASSERT_TRUE(s.feed(frame(body)));
    auto f = s.next();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->size(), kMaxFrameSize);
}

TEST(FrameSplitter, FramesBeforeABadLengthStayAvailable) {
    FrameSplitter s;
    EXPECT_FALSE(s.feed(cat({frame(Bytes{11}), Bytes{0, 0, 0, 0}, frame(Bytes{19})})));
    auto frames = drain(s);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0], Bytes{11});
}

TEST(FrameSplitter, DoesNotAllocateTheClaimedLength) {
    FrameSplitter s;
    const std::uint32_t n = kMaxFrameSize;
    const Bytes header = {std::uint8_t(n >> 24), std::uint8_t(n >> 16), std::uint8_t(n >> 8),
                          std::uint8_t(n)};
    testing::AllocProbe probe;
    ASSERT_TRUE(s.feed(header));
    ASSERT_TRUE(s.feed(Bytes(10, 1)));
    EXPECT_TRUE(s.partial());
    EXPECT_EQ(s.frames_ready(), 0u);
    EXPECT_LT(probe.largest(), 64u);
}

TEST(FrameSplitter, MemoryFollowsWhatArrives) {
    FrameSplitter s;
    const std::uint32_t n = kMaxFrameSize;
    ASSERT_TRUE(s.feed(Bytes{std::uint8_t(n >> 24), std::uint8_t(n >> 16), std::uint8_t(n >> 8),
                             std::uint8_t(n)}));
    testing::AllocProbe probe;
    size_t received = 0;
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(s.feed(Bytes(100, 1)));
        received += 100;
        EXPECT_LE(probe.largest(), 2 * received + 100) << i;
    }
}

}  // namespace
}  // namespace attache::ssh
