// wire::Reader and wire::Writer: big-endian integers, strict booleans, bounded strings; a failed
// read consumes nothing.

#include <gtest/gtest.h>

#include "pkcs11/agent_protocol/wire.h"

namespace attache::wire {
namespace {

TEST(WireReader, Integers) {
    const Bytes b = {0xab, 0x01, 0x02, 0x03, 0x04, 0x10, 0x20,
                     0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0xff};
    Reader r(b);
    uint8_t v8 = 0;
    uint32_t v32 = 0;
    uint64_t v64 = 0;
    EXPECT_EQ(r.remaining(), b.size());
    ASSERT_TRUE(r.u8(v8));
    EXPECT_EQ(v8, 0xab);
    ASSERT_TRUE(r.u32(v32));
    EXPECT_EQ(v32, 0x01020304u);
    ASSERT_TRUE(r.u64(v64));
    EXPECT_EQ(v64, 0x1020304050607080ull);
    EXPECT_EQ(r.remaining(), 1u);
    EXPECT_FALSE(r.at_end());
    ASSERT_TRUE(r.u8(v8));
    EXPECT_EQ(v8, 0xff);
    EXPECT_TRUE(r.at_end());
    EXPECT_FALSE(r.u8(v8));
}

TEST(WireReader, ShortReadsConsumeNothing) {
    const Bytes b = {1, 2, 3};
    Reader r(b);
    uint32_t v32 = 0xdeadbeef;
    uint64_t v64 = 7;
    EXPECT_FALSE(r.u32(v32));
    EXPECT_EQ(v32, 0xdeadbeefu);  // untouched
    EXPECT_FALSE(r.u64(v64));
    EXPECT_EQ(v64, 7u);
    EXPECT_EQ(r.remaining(), 3u);
    uint8_t v8;
    ASSERT_TRUE(r.u8(v8));
    EXPECT_EQ(v8, 1);

    const Bytes seven = {0, 0, 0, 0, 0, 0, 0};
    Reader r7(seven);
    EXPECT_FALSE(r7.u64(v64));
    EXPECT_EQ(r7.remaining(), 7u);

    Reader empty(std::span<const uint8_t>{});
    EXPECT_TRUE(empty.at_end());
    EXPECT_FALSE(empty.u8(v8));
    bool flag;
    EXPECT_FALSE(empty.boolean(flag));
    std::span<const uint8_t> s;
    EXPECT_FALSE(empty.string(s));
}

TEST(WireReader, BooleansAreZeroOrOne) {
    const Bytes b = {0, 1, 2};
    Reader r(b);
    bool v = true;
    ASSERT_TRUE(r.boolean(v));
    EXPECT_FALSE(v);
    ASSERT_TRUE(r.boolean(v));
    EXPECT_TRUE(v);
    EXPECT_FALSE(r.boolean(v));
    EXPECT_EQ(r.remaining(), 1u);  // the bad byte is not consumed

    for (int x : {2, 0x7f, 0x80, 0xff}) {
        const Bytes one = {static_cast<uint8_t>(x)};
        Reader rx(one);
        EXPECT_FALSE(rx.boolean(v)) << x;
    }
}

TEST(WireReader, Strings) {
    const Bytes b = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0, 0, 0, 2, 0xfe, 0x00};
    Reader r(b);
    std::span<const uint8_t> s;
    ASSERT_TRUE(r.string(s));
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0], 'a');
    EXPECT_EQ(s.data(), b.data() + 4);  // a view, no copy
    std::string t = "old";
    ASSERT_TRUE(r.text(t));
    EXPECT_EQ(t, "");
    Bytes bytes;
    ASSERT_TRUE(r.bytes(bytes));
    EXPECT_EQ(bytes, (Bytes{0xfe, 0x00}));
    EXPECT_TRUE(r.at_end());
}

TEST(WireReader, LyingLengthsConsumeNothing) {
    for (uint32_t len : {4u, 5u, 1000u, 0x7fffffffu, 0x80000000u, 0xfffffffcu, 0xffffffffu}) {
        Bytes b = {static_cast<uint8_t>(len >> 24),
                   static_cast<uint8_t>(len >> 16),
                   static_cast<uint8_t>(len >> 8),
                   static_cast<uint8_t>(len),
                   'x',
                   'y',
                   'z'};
        Reader r(b);
        std::span<const uint8_t> s;
        Bytes out;
        std::string text;
        EXPECT_FALSE(r.string(s)) << len;
        EXPECT_FALSE(r.bytes(out)) << len;
        EXPECT_FALSE(r.text(text)) << len;
        EXPECT_EQ(r.remaining(), b.size()) << len;
        EXPECT_TRUE(out.empty());
        uint32_t prefix;
        ASSERT_TRUE(r.u32(prefix));  // still at the start
        EXPECT_EQ(prefix, len);
    }
    // A length prefix cut short.
    const Bytes short_prefix = {0, 0, 1};
    Reader r(short_prefix);
    std::span<const uint8_t> s;
    EXPECT_FALSE(r.string(s));
    EXPECT_EQ(r.remaining(), 3u);
}

TEST(WireReader, StringMaximum) {
    const Bytes b = {0, 0, 0, 4, 'a', 'b', 'c', 'd'};
    {
        Reader r(b);
        std::string t;
        EXPECT_FALSE(r.text(t, 3));
        EXPECT_EQ(r.remaining(), b.size());
        ASSERT_TRUE(r.text(t, 4));
        EXPECT_EQ(t, "abcd");
    }
    {
        Reader r(b);
        Bytes out;
        EXPECT_FALSE(r.bytes(out, 0));
        ASSERT_TRUE(r.bytes(out));
        EXPECT_EQ(out.size(), 4u);
    }
}

TEST(WireReader, ReadsOnlyItsSpan) {
    // A Reader over the first bytes of a buffer never reads past the span.
    const Bytes b = {0, 0, 0, 4, 'a', 'b', 'c', 'd'};
    Reader r(std::span<const uint8_t>(b.data(), 6));
    std::span<const uint8_t> s;
    EXPECT_FALSE(r.string(s));
    EXPECT_EQ(r.remaining(), 6u);
}

TEST(WireWriter, Encodings) {
    Writer w;
    w.u8(0xab).u32(0x01020304).u64(0x1122334455667788ull).boolean(true).boolean(false);
    w.string(std::string_view("hi")).string(Bytes{0xff}).raw(Bytes{9, 8});
    const Bytes expected = {0xab, 1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 1,
                            0,    0, 0, 0, 2, 'h',  'i',  0,    0,    0,    1,    0xff, 9,    8};
    EXPECT_EQ(w.data(), expected);
    EXPECT_EQ(w.take(), expected);
}

TEST(WireWriter, PatchLength) {
    Writer w;
    w.u8(7);
    const size_t at = w.data().size();
    w.u32(0).string(std::string_view("abc"));
    w.patch_length(at);
    EXPECT_EQ(w.data(), (Bytes{7, 0, 0, 0, 7, 0, 0, 0, 3, 'a', 'b', 'c'}));
}

TEST(WireWriterReader, RoundTrip) {
    Writer w;
    const Bytes blob(300, 0x5a);
    w.u32(0xffffffff).u64(0).boolean(true).string(blob).string(std::string_view(""));
    const Bytes out = w.take();
    Reader r(out);
    uint32_t a;
    uint64_t b;
    bool c;
    Bytes d;
    std::string e = "x";
    ASSERT_TRUE(r.u32(a) && r.u64(b) && r.boolean(c) && r.bytes(d) && r.text(e));
    EXPECT_EQ(a, 0xffffffffu);
    EXPECT_EQ(b, 0u);
    EXPECT_TRUE(c);
    EXPECT_EQ(d, blob);
    EXPECT_EQ(e, "");
    EXPECT_TRUE(r.at_end());
}

}  // namespace
}  // namespace attache::wire
