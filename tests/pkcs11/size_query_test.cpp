// query_sized as a unit, against fake PKCS#11 calls that misbehave in the ways modules do.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pkcs11/size_query.h"

namespace attache::p11 {
namespace {

// A fake "NULL-or-buffer" call. `sizes[i]` is what the i-th call reports as the count (the
// last entry repeats); `too_small` says which calls answer CKR_BUFFER_TOO_SMALL regardless.
// A call with a buffer at least `sizes[i]` long fills it with 1, 2, 3, ...
class FakeCall {
  public:
    explicit FakeCall(std::vector<CK_ULONG> sizes) : sizes_(std::move(sizes)) {}

    CK_RV operator()(uint32_t* buffer, CK_ULONG* count) {
        const CK_ULONG size = sizes_[std::min(calls_, sizes_.size() - 1)];
        const bool forced_too_small = calls_ < too_small_.size() && too_small_[calls_];
        ++calls_;
        if (buffer != nullptr)
            ++buffer_calls_;
        if (fail_with_ != CKR_OK)
            return fail_with_;
        if (buffer == nullptr) {
            *count = size;
            return CKR_OK;
        }
        if (forced_too_small || *count < size) {
            *count = size;
            return CKR_BUFFER_TOO_SMALL;
        }
        for (CK_ULONG i = 0; i < size; ++i)
            buffer[i] = static_cast<uint32_t>(i + 1);
        *count = report_after_fill_ ? *report_after_fill_ : size;
        return CKR_OK;
    }

    size_t calls_ = 0;
    size_t buffer_calls_ = 0;
    std::vector<CK_ULONG> sizes_;
    std::vector<bool> too_small_;
    CK_RV fail_with_ = CKR_OK;
    std::optional<CK_ULONG> report_after_fill_;
};

std::vector<uint32_t> iota(size_t n) {
    std::vector<uint32_t> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<uint32_t>(i + 1);
    return v;
}

template <typename Fake>
auto query(Fake& fake, size_t cap, std::optional<size_t> guess = std::nullopt) {
    return query_sized<uint32_t>([&](uint32_t* b, CK_ULONG* c) { return fake(b, c); }, cap,
                                 "C_Fake", guess);
}

TEST(SizeQuery, AskThenFill) {
    FakeCall fake({5});
    auto r = query(fake, 100);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, iota(5));
    EXPECT_EQ(fake.calls_, 2u);
    EXPECT_EQ(fake.buffer_calls_, 1u);
}

TEST(SizeQuery, ZeroItemsNeedNoSecondCall) {
    FakeCall fake({0});
    auto r = query(fake, 100);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->empty());
    EXPECT_EQ(fake.calls_, 1u);
}

// A lying size is refused before anything is allocated: no buffer is ever offered.
TEST(SizeQuery, SizeOverTheCapIsRefusedWithoutAllocating) {
    FakeCall fake({CK_ULONG{1} << 40});
    auto r = query(fake, 4096);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(),
              "C_Fake: module reports 1099511627776 items, more than the limit of 4096");
    EXPECT_FALSE(r.error().rv().has_value());
    EXPECT_EQ(fake.calls_, 1u);
    EXPECT_EQ(fake.buffer_calls_, 0u);

    FakeCall just_over({4097});
    EXPECT_FALSE(query(just_over, 4096));
    FakeCall at_cap({4096});
    auto ok = query(at_cap, 4096);
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->size(), 4096u);
}

// The list grew between the size query and the fill: CKR_BUFFER_TOO_SMALL once, one retry.
TEST(SizeQuery, TooSmallOnceThenSuccessRetriesOnce) {
    FakeCall fake({4, 6});
    auto r = query(fake, 100);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, iota(6));
    EXPECT_EQ(fake.calls_, 3u);  // size, too small, fill
    EXPECT_EQ(fake.buffer_calls_, 2u);
}

TEST(SizeQuery, TooSmallGuessRetriesOnce) {
    FakeCall fake({10});
    auto r = query(fake, 100, 3);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, iota(10));
    EXPECT_EQ(fake.calls_, 2u);  // no size query: offered the guess, then the right size
    EXPECT_EQ(fake.buffer_calls_, 2u);
}

TEST(SizeQuery, GoodGuessTakesOneCallAndIsShrunk) {
    FakeCall fake({7});
    auto r = query(fake, 100, 64);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, iota(7));
    EXPECT_EQ(fake.calls_, 1u);
}

TEST(SizeQuery, GuessIsCappedAndTooSmallOverTheCapRefused) {
    FakeCall fake({50});
    auto r = query(fake, 8, 1000);  // buffer of 8 offered, module wants 50
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("module reports 50 items, more than the limit of 8"),
              std::string::npos)
        << r.error().message();
    EXPECT_EQ(fake.calls_, 1u);
}

// The count shrinks on the second call (an object went away): the result is shrunk too.
TEST(SizeQuery, ShrinkingCountShrinksTheResult) {
    FakeCall fake({10, 7});
    auto r = query(fake, 100);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, iota(7));
    EXPECT_EQ(fake.calls_, 2u);
}

// A module that keeps saying "too small": one retry, then an error, never a loop.
TEST(SizeQuery, PersistentTooSmallIsAnErrorNotALoop) {
    FakeCall growing({4, 8, 16, 32, 64});
    auto r = query(growing, 1000);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(CKR_BUFFER_TOO_SMALL)) << r.error().message();
    EXPECT_EQ(r.error().message(), "C_Fake: CKR_BUFFER_TOO_SMALL");
    EXPECT_EQ(growing.calls_, 3u);

    // Says "too small" yet asks for no more room than it was given.
    FakeCall stubborn({5});
    stubborn.too_small_ = {false, true, true, true};
    auto s = query(stubborn, 1000);
    ASSERT_FALSE(s);
    EXPECT_TRUE(s.error().is(CKR_BUFFER_TOO_SMALL)) << s.error().message();
    EXPECT_EQ(stubborn.calls_, 2u);

    FakeCall stubborn_guess({5});
    stubborn_guess.too_small_ = {true, true, true};
    auto g = query(stubborn_guess, 1000, 5);
    ASSERT_FALSE(g);
    EXPECT_EQ(stubborn_guess.calls_, 1u);
}

TEST(SizeQuery, ErrorsCarryTheCallAndTheRv) {
    FakeCall fake({5});
    fake.fail_with_ = CKR_DEVICE_REMOVED;
    auto r = query(fake, 100);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(CKR_DEVICE_REMOVED));
    EXPECT_EQ(r.error().message(), "C_Fake: CKR_DEVICE_REMOVED");
    EXPECT_EQ(fake.calls_, 1u);

    FakeCall hinted({5});
    hinted.fail_with_ = CKR_KEY_HANDLE_INVALID;
    auto h = query(hinted, 100, 16);
    ASSERT_FALSE(h);
    EXPECT_TRUE(h.error().is(CKR_KEY_HANDLE_INVALID));
}

// A module claiming to have written more than the buffer holds is not believed.
TEST(SizeQuery, CountBeyondTheBufferIsRefused) {
    FakeCall fake({4});
    fake.report_after_fill_ = 9;
    auto r = query(fake, 100);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "C_Fake: module reports 9 items written into a buffer of 4");
}

TEST(SizeQuery, WorksForBytes) {
    int calls = 0;
    auto r = query_sized<uint8_t>(
        [&](uint8_t* out, CK_ULONG* len) -> CK_RV {
            ++calls;
            const std::string value = "hello";
            if (out != nullptr && *len >= value.size())
                std::copy(value.begin(), value.end(), out);
            *len = value.size();
            return CKR_OK;
        },
        64, "C_Bytes");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(std::string(r->begin(), r->end()), "hello");
    EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace attache::p11
