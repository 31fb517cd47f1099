#include "agent/ssh/wire.h"

#include <gtest/gtest.h>

#include "tests/ssh/alloc_probe.h"

namespace attache::ssh {
namespace {

TEST(Reader, ReadsBigEndianFields) {
    const Bytes in = {0x07, 0x01, 0x02, 0x03, 0x04, 0x00, 0x02,
                      0x00, 0x00, 0x00, 0x03, 'a',  'b',  'c'};
    Reader r(in);
    EXPECT_EQ(*r.u8(), 0x07);
    EXPECT_EQ(*r.u32(), 0x01020304u);
    EXPECT_FALSE(*r.boolean());
    EXPECT_TRUE(*r.boolean());  // any non-zero byte is true
    auto s = r.string();
    ASSERT_TRUE(s);
    EXPECT_EQ(as_chars(*s), "abc");
    EXPECT_TRUE(r.at_end());
    EXPECT_TRUE(r.expect_end());
}

TEST(Reader, EveryReadFailsCleanlyAtTheEnd) {
    Reader r(ByteView{});
    EXPECT_FALSE(r.u8());
    EXPECT_FALSE(r.u32());
    EXPECT_FALSE(r.boolean());
    EXPECT_FALSE(r.string());
    EXPECT_FALSE(r.bytes(1));
    EXPECT_TRUE(r.bytes(0));
    EXPECT_TRUE(r.rest().empty());
}

TEST(Reader, ShortU32ConsumesNothing) {
    const Bytes in = {0x01, 0x02, 0x03};
    for (size_t n = 0; n < 4; ++n) {
        Reader r(ByteView(in).first(std::min(n, in.size())));
        auto v = r.u32();
        EXPECT_FALSE(v) << n;
        EXPECT_EQ(r.remaining(), std::min(n, in.size()));
    }
}

TEST(Reader, StringLengthMustFitWhatIsLeft) {
    const Bytes exact = {0, 0, 0, 2, 'h', 'i'};
    EXPECT_TRUE(Reader(exact).string());

    const Bytes one_over = {0, 0, 0, 3, 'h', 'i'};
    Reader r(one_over);
    auto s = r.string();
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message().find("exceeds"), std::string::npos) << s.error().message();
    EXPECT_EQ(r.remaining(), one_over.size());  // a failed read consumes nothing
}

TEST(Reader, LyingLengthAllocatesNothing) {
    const Bytes lie = {0xff, 0xff, 0xff, 0xff, 'x', 'y', 'z'};
    testing::AllocProbe probe;
    Reader r(lie);
    auto s = r.string();
    EXPECT_FALSE(s);
    // The error message is the only allocation.
    EXPECT_LT(probe.largest(), 256u);
}

TEST(Reader, ExpectEndNamesTheTrailingBytes) {
    const Bytes in = {1, 2, 3};
    Reader r(in);
    (void)r.u8();
    auto end = r.expect_end();
    ASSERT_FALSE(end);
    EXPECT_NE(end.error().message().find("2 trailing bytes"), std::string::npos);
}

TEST(Writer, WritesFields) {
    Writer w;
    w.u8(0x0d).u32(0xdeadbeef).boolean(true).string("ab").raw(Bytes{9, 9});
    const Bytes want = {0x0d, 0xde, 0xad, 0xbe, 0xef, 0x01, 0, 0, 0, 2, 'a', 'b', 9, 9};
    EXPECT_EQ(w.bytes(), want);
}

TEST(Writer, MpintFollowsRfc4251) {
    auto mpint = [](Bytes magnitude) {
        Writer w;
        w.mpint(magnitude);
        return w.take();
    };
    EXPECT_EQ(mpint({}), (Bytes{0, 0, 0, 0}));
    EXPECT_EQ(mpint({0, 0}), (Bytes{0, 0, 0, 0}));
    EXPECT_EQ(mpint({0x7f}), (Bytes{0, 0, 0, 1, 0x7f}));
    EXPECT_EQ(mpint({0x80}), (Bytes{0, 0, 0, 2, 0x00, 0x80}));
    EXPECT_EQ(mpint({0x00, 0x00, 0x12, 0x34}), (Bytes{0, 0, 0, 2, 0x12, 0x34}));
    EXPECT_EQ(mpint({0x00, 0x9a, 0x37}), (Bytes{0, 0, 0, 3, 0x00, 0x9a, 0x37}));
}

TEST(Wire, RoundTrip) {
    Writer w;
    const Bytes blob(300, 0xab);
    w.u8(1).string(blob).u32(7).string("");
    Reader r(w.bytes());
    EXPECT_EQ(*r.u8(), 1);
    auto s = r.string();
    ASSERT_TRUE(s);
    EXPECT_EQ(Bytes(s->begin(), s->end()), blob);
    EXPECT_EQ(*r.u32(), 7u);
    EXPECT_TRUE(r.string()->empty());
    EXPECT_TRUE(r.expect_end());
}

}  // namespace
}  // namespace attache::ssh
