// Secret: the locked, wiped buffer PINs live in.

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "pkcs11/secret.h"

namespace attache {
namespace {

std::string contents(const Secret& s) {
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

Secret make(std::string_view text) {
    Secret s;
    EXPECT_TRUE(Secret::from(text, s));
    return s;
}

TEST(Secret, StartsEmptyAndValid) {
    Secret s;
    EXPECT_TRUE(s.valid());
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(s.size(), 0u);
}

TEST(Secret, FromCopiesTheBytes) {
    Secret s;
    ASSERT_TRUE(Secret::from(std::string_view("12\0"
                                              "34",
                                              5),
                             s));
    EXPECT_EQ(s.size(), 5u);
    EXPECT_EQ(contents(s), std::string("12\0"
                                       "34",
                                       5));

    // from() replaces what was there.
    ASSERT_TRUE(Secret::from("9", s));
    EXPECT_EQ(contents(s), "9");
}

TEST(Secret, FromRefusesWhatDoesNotFit) {
    Secret s = make("old");
    const std::string big(Secret::kCapacity + 1, 'x');
    EXPECT_FALSE(Secret::from(big, s));
    EXPECT_TRUE(s.empty());  // cleared, not half-filled
    const std::string exact(Secret::kCapacity, 'y');
    ASSERT_TRUE(Secret::from(exact, s));
    EXPECT_EQ(s.size(), Secret::kCapacity);
    EXPECT_EQ(contents(s), exact);
}

TEST(Secret, PushBackUntilFull) {
    Secret s;
    for (size_t i = 0; i < Secret::kCapacity; ++i)
        ASSERT_TRUE(s.push_back(static_cast<unsigned char>('a' + i % 26))) << i;
    EXPECT_FALSE(s.push_back('z'));
    EXPECT_EQ(s.size(), Secret::kCapacity);
    EXPECT_EQ(s.data()[27], 'b');
    s.pop_back();
    EXPECT_EQ(s.size(), Secret::kCapacity - 1);
    EXPECT_TRUE(s.push_back('!'));
    EXPECT_EQ(s.data()[Secret::kCapacity - 1], '!');
    s.clear();
    EXPECT_TRUE(s.empty());
    s.pop_back();  // on empty: no effect
    EXPECT_TRUE(s.empty());
}

TEST(Secret, StripNewline) {
    struct Case {
        std::string in, out;
    };
    for (const Case& c : {Case{"1234\n", "1234"}, Case{"1234\r\n", "1234"}, Case{"1234", "1234"},
                          Case{"1234\n\n", "1234\n"}, Case{"1234\r\n\r\n", "1234\r\n"},
                          Case{"\n", ""}, Case{"\r\n", ""}, Case{"", ""},
                          // A lone CR is part of the secret: only "\n" or "\r\n" is a line end.
                          Case{"1234\r", "1234\r"}, Case{"\r", "\r"}, Case{"12\n34", "12\n34"}}) {
        Secret s = make(c.in);
        s.strip_newline();
        EXPECT_EQ(contents(s), c.out) << "input " << ::testing::PrintToString(c.in);
    }
}

TEST(Secret, MovedFromIsEmpty) {
    Secret a = make("123456");
    const unsigned char* storage = a.data();
    Secret b(std::move(a));
    EXPECT_EQ(contents(b), "123456");
    EXPECT_EQ(b.data(), storage);  // moved, not copied
    EXPECT_TRUE(a.empty());        // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_FALSE(a.push_back('x'));  // a moved-from secret takes nothing
    EXPECT_FALSE(Secret::from("x", a));
    a.strip_newline();
    a.clear();

    Secret c = make("other");
    c = std::move(b);
    EXPECT_EQ(contents(c), "123456");
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(b.valid());

    Secret& alias = c;
    c = std::move(alias);  // self-move keeps the value
    EXPECT_EQ(contents(c), "123456");
}

}  // namespace
}  // namespace attache
