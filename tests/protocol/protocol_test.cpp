// The native protocol's codec: every request and reply survives encode -> decode with every
// field intact, and the decoders reject every malformed body (truncations, trailing bytes, lying
// lengths and counts, out-of-range values, unknown types).

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <string>

#include "pkcs11/agent_protocol/codec.h"
#include "tests/protocol/alloc_watch.h"
#include "tests/protocol/layout.h"
#include "tests/protocol/samples.h"

namespace attache::protocol {
namespace {

using layout::Field;
using layout::Kind;

void put_u32(Bytes& b, size_t offset, uint32_t v) {
    ASSERT_LE(offset + 4, b.size());
    b[offset] = static_cast<uint8_t>(v >> 24);
    b[offset + 1] = static_cast<uint8_t>(v >> 16);
    b[offset + 2] = static_cast<uint8_t>(v >> 8);
    b[offset + 3] = static_cast<uint8_t>(v);
}

uint32_t get_u32(const Bytes& b, size_t offset) {
    return (uint32_t{b[offset]} << 24) | (uint32_t{b[offset + 1]} << 16) |
           (uint32_t{b[offset + 2]} << 8) | uint32_t{b[offset + 3]};
}

Bytes text_bytes(size_t size, char c = 'x') {
    return Bytes(size, static_cast<uint8_t>(c));
}

// A body built field by field, for messages the encoder cannot produce.
class Body {
  public:
    Body(uint8_t type, uint32_t id) { u8(type).u32(id); }
    Body& u8(uint8_t v) {
        b_.push_back(v);
        return *this;
    }
    Body& u32(uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8)
            b_.push_back(static_cast<uint8_t>(v >> shift));
        return *this;
    }
    Body& u64(uint64_t v) {
        return u32(static_cast<uint32_t>(v >> 32)).u32(static_cast<uint32_t>(v));
    }
    Body& str(const Bytes& v) {
        u32(static_cast<uint32_t>(v.size()));
        b_.insert(b_.end(), v.begin(), v.end());
        return *this;
    }
    Body& str(std::string_view v) { return str(to_bytes(v)); }
    const Bytes& bytes() const { return b_; }

  private:
    Bytes b_;
};

// ---- Round trips ----------------------------------------------------------------------------

TEST(ProtocolRoundTrip, EveryRequestType) {
    auto samples = samples::requests();
    // Request types are 1..10 (audit-log is the last).
    std::array<bool, 11> seen{};
    for (const auto& s : samples) {
        SCOPED_TRACE(s.name);
        const auto type = static_cast<size_t>(type_of(s.request));
        ASSERT_LT(type, seen.size()) << "a request type this test does not know yet";
        seen[type] = true;
        const Bytes frame = encode_request(s.id, s.request);
        ASSERT_GE(frame.size(), 4 + layout::kHeaderSize);
        auto len = frame_length(std::span<const uint8_t, 4>(frame.data(), 4));
        ASSERT_TRUE(len) << len.error().message();
        EXPECT_EQ(*len, frame.size() - 4);
        const std::span<const uint8_t> body(frame.data() + 4, frame.size() - 4);
        EXPECT_EQ(body[0], static_cast<uint8_t>(type_of(s.request)));
        EXPECT_TRUE(layout::request_fields(body)) << "encoding does not follow the layout";

        auto decoded = decode_request(body);
        ASSERT_TRUE(decoded) << decoded.error().message();
        EXPECT_EQ(decoded->id, s.id);
        EXPECT_EQ(decoded->request.index(), s.request.index());
        EXPECT_EQ(samples::describe(decoded->request), samples::describe(s.request));
        EXPECT_EQ(encode_request(decoded->id, decoded->request), frame);
    }
    for (uint8_t t = 1; t <= 10; ++t)
        EXPECT_TRUE(seen[t]) << "no sample of request type " << int{t};
}

TEST(ProtocolRoundTrip, EveryReplyType) {
    auto samples = samples::replies();
    std::array<bool, std::variant_size_v<Reply>> seen{};
    for (const auto& s : samples) {
        SCOPED_TRACE(s.name);
        seen[s.reply.index()] = true;
        const Bytes frame = encode_reply(s.id, s.reply);
        auto len = frame_length(std::span<const uint8_t, 4>(frame.data(), 4));
        ASSERT_TRUE(len) << len.error().message();
        EXPECT_EQ(*len, frame.size() - 4);
        const std::span<const uint8_t> body(frame.data() + 4, frame.size() - 4);
        EXPECT_TRUE(layout::reply_fields(body)) << "encoding does not follow the layout";

        auto decoded = decode_reply(body);
        ASSERT_TRUE(decoded) << decoded.error().message();
        EXPECT_EQ(decoded->id, s.id);
        EXPECT_EQ(decoded->reply.index(), s.reply.index());
        EXPECT_EQ(samples::describe(decoded->reply), samples::describe(s.reply));
        EXPECT_EQ(encode_reply(decoded->id, decoded->reply), frame);
    }
    for (size_t i = 0; i < seen.size(); ++i)
        EXPECT_TRUE(seen[i]) << "no sample of reply alternative " << i;
}

TEST(ProtocolRoundTrip, ReplyTypeBytes) {
    const std::array<std::pair<Reply, uint8_t>, 11> cases = {{
        {HelloReply{}, 0x81},
        {StatusReply{}, 0x82},
        {ListKeysReply{}, 0x83},
        {SignReply{}, 0x84},
        {DecryptReply{}, 0x85},
        {DeriveReply{}, 0x86},
        {UnlockReply{}, 0x87},
        {LockReply{}, 0x88},
        {RandomReply{}, 0x89},
        {AuditLogReply{}, 0x8a},
        {ErrorReply{}, kErrorReply},
    }};
    for (const auto& [reply, type] : cases)
        EXPECT_EQ(encode_reply(5, reply)[4], type) << samples::describe(reply);
}

TEST(ProtocolRoundTrip, UnlockWithPin) {
    UnlockRequest u;
    u.token = "pkcs11:token=alice";
    u.confirm_final_try = true;
    Secret pin;
    ASSERT_TRUE(Secret::from("123456", pin));
    u.pin = std::move(pin);
    const Bytes body = samples::request_body(77, Request(std::move(u)));

    auto decoded = decode_request(body);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->id, 77u);
    RequestFrame frame = std::move(*decoded);  // move-only: Secret inside
    auto* got = std::get_if<UnlockRequest>(&frame.request);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->token, "pkcs11:token=alice");
    EXPECT_TRUE(got->confirm_final_try);
    ASSERT_TRUE(got->pin.has_value());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(got->pin->data()), got->pin->size()),
              "123456");
    EXPECT_EQ(samples::request_body(77, frame.request), body);
}

TEST(ProtocolRoundTrip, UnlockWithoutPin) {
    UnlockRequest u;
    u.token = "";
    const Bytes body = samples::request_body(78, Request(std::move(u)));
    auto decoded = decode_request(body);
    ASSERT_TRUE(decoded) << decoded.error().message();
    auto* got = std::get_if<UnlockRequest>(&decoded->request);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->token, "");
    EXPECT_FALSE(got->confirm_final_try);
    EXPECT_FALSE(got->pin.has_value());
}

TEST(ProtocolRoundTrip, UnlockWithEmptyPin) {
    // An empty PIN is not an absent PIN: has_pin = 1 with zero bytes stays a PIN.
    UnlockRequest u;
    Secret pin;
    ASSERT_TRUE(Secret::from("", pin));
    u.pin = std::move(pin);
    const Bytes body = samples::request_body(79, Request(std::move(u)));
    auto decoded = decode_request(body);
    ASSERT_TRUE(decoded) << decoded.error().message();
    auto* got = std::get_if<UnlockRequest>(&decoded->request);
    ASSERT_NE(got, nullptr);
    ASSERT_TRUE(got->pin.has_value());
    EXPECT_EQ(got->pin->size(), 0u);
}

TEST(ProtocolRoundTrip, LargestAcceptedValues) {
    // Each bounded field at exactly its limit decodes.
    EXPECT_TRUE(decode_request(Body(1, 1).u32(1).u32(1).str(text_bytes(kMaxTextSize)).bytes()));
    EXPECT_TRUE(decode_request(Body(8, 1).str(text_bytes(kMaxKeyRefSize)).bytes()));
    EXPECT_TRUE(decode_request(Body(6, 1).str("k").str(text_bytes(kMaxTextSize)).bytes()));
    EXPECT_TRUE(
        decode_request(Body(7, 1).str("t").u8(0).u8(1).str(text_bytes(kMaxPinSize, '7')).bytes()));
    EXPECT_TRUE(decode_request(Body(9, 1).u32(kMaxRandomSize).bytes()));
    EXPECT_TRUE(decode_reply(Body(0x89, 1).str(text_bytes(kMaxRandomSize)).bytes()));

    // A body of exactly kMaxMessageSize bytes.
    SignRequest big;
    big.key = "k";
    const size_t overhead = samples::request_body(1, big).size();
    big.data = text_bytes(kMaxMessageSize - overhead);
    const Bytes body = samples::request_body(1, big);
    ASSERT_EQ(body.size(), kMaxMessageSize);
    EXPECT_TRUE(decode_request(body));

    // kMaxListEntries (smallest possible) tokens.
    Body status(0x82, 1);
    status.str("a").u32(1).str("s").str("t").u32(kMaxListEntries);
    for (size_t i = 0; i < kMaxListEntries; ++i) {
        status.str("").str("").str("").str("").str("").u8(0).u8(0).u64(0).u64(0).str("").u32(0);
    }
    ASSERT_LE(status.bytes().size(), kMaxMessageSize);
    auto decoded = decode_reply(status.bytes());
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(std::get<StatusReply>(decoded->reply).tokens.size(), kMaxListEntries);
}

// ---- Rejections -----------------------------------------------------------------------------

using Decoder = std::function<bool(std::span<const uint8_t>)>;

bool request_ok(std::span<const uint8_t> b) {
    return decode_request(b).has_value();
}
bool reply_ok(std::span<const uint8_t> b) {
    return decode_reply(b).has_value();
}

struct Encoded {
    std::string name;
    Bytes body;
};

std::vector<Encoded> request_bodies() {
    std::vector<Encoded> out;
    for (const auto& s : samples::requests())
        out.push_back({s.name, samples::request_body(s.id, s.request)});
    return out;
}

std::vector<Encoded> reply_bodies() {
    std::vector<Encoded> out;
    for (const auto& s : samples::replies())
        out.push_back({s.name, samples::reply_body(s.id, s.reply)});
    return out;
}

void expect_every_truncation_rejected(const std::vector<Encoded>& bodies, const Decoder& ok) {
    for (const auto& e : bodies) {
        ASSERT_TRUE(ok(e.body)) << e.name;
        for (size_t n = 0; n < e.body.size(); ++n) {
            EXPECT_FALSE(ok(std::span<const uint8_t>(e.body.data(), n)))
                << e.name << " truncated to " << n << " of " << e.body.size() << " bytes";
        }
    }
}

TEST(ProtocolReject, EveryRequestTruncation) {
    expect_every_truncation_rejected(request_bodies(), request_ok);
}

TEST(ProtocolReject, EveryReplyTruncation) {
    expect_every_truncation_rejected(reply_bodies(), reply_ok);
}

void expect_trailing_byte_rejected(const std::vector<Encoded>& bodies, const Decoder& ok) {
    for (const auto& e : bodies) {
        for (uint8_t extra : {0x00, 0x01, 0xff}) {
            Bytes b = e.body;
            b.push_back(extra);
            EXPECT_FALSE(ok(b)) << e.name << " + trailing byte " << int{extra};
        }
    }
}

TEST(ProtocolReject, RequestTrailingByte) {
    expect_trailing_byte_rejected(request_bodies(), request_ok);
}

TEST(ProtocolReject, ReplyTrailingByte) {
    expect_trailing_byte_rejected(reply_bodies(), reply_ok);
}

// Overwrites each field of each sample with invalid values found through the layout.
struct Mutation {
    std::string what;
    Bytes body;
};

void add_u8(std::vector<Mutation>& out, const Bytes& body, size_t offset, const char* kind,
            std::initializer_list<uint8_t> values) {
    for (uint8_t v : values) {
        Bytes b = body;
        b[offset] = v;
        out.push_back(
            {std::string(kind) + " at " + std::to_string(offset) + " = " + std::to_string(v),
             std::move(b)});
    }
}

void add_u32(std::vector<Mutation>& out, const Bytes& body, size_t offset, const char* kind,
             std::initializer_list<uint32_t> values) {
    for (uint32_t v : values) {
        Bytes b = body;
        put_u32(b, offset, v);
        out.push_back(
            {std::string(kind) + " at " + std::to_string(offset) + " = " + std::to_string(v),
             std::move(b)});
    }
}

// Invalid variants of `body`: every string length lying (one more than what remains, and
// 0xFFFFFFFF), every bool 2, every enum out of range, every list count beyond the bytes left.
std::vector<Mutation> invalid_variants(const Bytes& body, const std::vector<Field>& fields) {
    std::vector<Mutation> out;
    for (const Field& f : fields) {
        const uint32_t left_after_u32 = static_cast<uint32_t>(body.size() - f.offset - 4);
        switch (f.kind) {
            case Kind::string:
                add_u32(out, body, f.offset, "string length",
                        {left_after_u32 + 1, left_after_u32 + 1000, 0x80000000u, 0xffffffffu});
                break;
            case Kind::token_list:
            case Kind::key_list:
            case Kind::authority_list:
                add_u32(
                    out, body, f.offset, "list count",
                    {left_after_u32 + 1, static_cast<uint32_t>(kMaxListEntries + 1), 0xffffffffu});
                break;
            case Kind::audit_record_list:
                add_u32(
                    out, body, f.offset, "record count",
                    {left_after_u32 + 1, static_cast<uint32_t>(kMaxAuditRecords + 1), 0xffffffffu});
                break;
            case Kind::field_count:
                add_u32(
                    out, body, f.offset, "field count",
                    {left_after_u32 + 1, static_cast<uint32_t>(kMaxAuditFields + 1), 0xffffffffu});
                break;
            case Kind::boolean:
                add_u8(out, body, f.offset, "bool", {2, 0x80, 0xff});
                break;
            case Kind::sign_scheme:
                add_u8(out, body, f.offset, "sign scheme", {0, 6, 0x7f, 0xff});
                break;
            case Kind::decrypt_scheme:
                add_u8(out, body, f.offset, "decrypt scheme", {0, 3, 0xff});
                break;
            case Kind::hash:
                add_u8(out, body, f.offset, "hash", {5, 0x80, 0xff});
                break;
            case Kind::key_type:
                add_u8(out, body, f.offset, "key type", {0, 4, 0xff});
                break;
            case Kind::u8:
            case Kind::u32:
            case Kind::u64:
            case Kind::error_code:  // tolerated: see ErrorReplyUnknownCode
                break;
        }
    }
    return out;
}

void expect_invalid_variants_rejected(const std::vector<Encoded>& bodies, const Decoder& ok,
                                      bool replies, size_t& checked) {
    for (const auto& e : bodies) {
        auto fields = replies ? layout::reply_fields(e.body) : layout::request_fields(e.body);
        ASSERT_TRUE(fields) << e.name << " does not follow the layout";
        for (const auto& m : invalid_variants(e.body, *fields)) {
            EXPECT_FALSE(ok(m.body)) << e.name << ": " << m.what;
            ++checked;
        }
    }
}

TEST(ProtocolReject, RequestFieldsOutOfRange) {
    size_t checked = 0;
    expect_invalid_variants_rejected(request_bodies(), request_ok, false, checked);
    EXPECT_GT(checked, 100u);
}

TEST(ProtocolReject, ReplyFieldsOutOfRange) {
    size_t checked = 0;
    expect_invalid_variants_rejected(reply_bodies(), reply_ok, true, checked);
    EXPECT_GT(checked, 100u);
}

TEST(ProtocolReject, UnknownRequestTypes) {
    for (unsigned type : {0u, 11u, 12u, 0x7fu, 0x80u, 0x81u, 0x8au, 0xfeu, 0xffu}) {
        EXPECT_FALSE(decode_request(Body(static_cast<uint8_t>(type), 1).bytes())) << type;
        // Also with a plausible payload after the header.
        EXPECT_FALSE(decode_request(Body(static_cast<uint8_t>(type), 1).str("k").bytes())) << type;
    }
    // Every request type other than 1..10 is refused, whatever follows.
    for (unsigned type = 0; type < 256; ++type) {
        if (type >= 1 && type <= 10)
            continue;
        EXPECT_FALSE(decode_request(Body(static_cast<uint8_t>(type), 1).u32(0).bytes())) << type;
    }
}

TEST(ProtocolReject, UnknownReplyTypes) {
    for (unsigned type : {0x00u, 0x01u, 0x0au, 0x0bu, 0x7fu, 0x80u, 0x8bu, 0xbfu, 0xfeu}) {
        EXPECT_FALSE(decode_reply(Body(static_cast<uint8_t>(type), 1).bytes())) << type;
        EXPECT_FALSE(decode_reply(Body(static_cast<uint8_t>(type), 1).u32(0).bytes())) << type;
    }
    for (unsigned type = 0; type < 256; ++type) {
        if ((type >= 0x81 && type <= 0x8a) || type == kErrorReply)
            continue;
        EXPECT_FALSE(decode_reply(Body(static_cast<uint8_t>(type), 1).u32(0).bytes())) << type;
    }
}

TEST(ProtocolReject, RequestsAreNotReplies) {
    for (const auto& e : request_bodies())
        EXPECT_FALSE(decode_reply(e.body)) << e.name;
    for (const auto& e : reply_bodies())
        EXPECT_FALSE(decode_request(e.body)) << e.name;
}

TEST(ProtocolReject, EmptyAndShortHeaders) {
    for (size_t n = 0; n < layout::kHeaderSize; ++n) {
        const Bytes b(n, 0x02);
        EXPECT_FALSE(decode_request(b)) << n;
        EXPECT_FALSE(decode_reply(Bytes(n, 0x82))) << n;
    }
}

TEST(ProtocolReject, FieldsOverTheirLimit) {
    EXPECT_FALSE(
        decode_request(Body(1, 1).u32(1).u32(1).str(text_bytes(kMaxTextSize + 1)).bytes()));
    EXPECT_FALSE(decode_request(Body(8, 1).str(text_bytes(kMaxKeyRefSize + 1)).bytes()));
    EXPECT_FALSE(decode_request(Body(6, 1).str("k").str(text_bytes(kMaxTextSize + 1)).bytes()));
    EXPECT_FALSE(decode_request(
        Body(7, 1).str("t").u8(0).u8(1).str(text_bytes(kMaxPinSize + 1, '7')).bytes()));
    EXPECT_FALSE(decode_request(Body(9, 1).u32(kMaxRandomSize + 1).bytes()));
    EXPECT_FALSE(decode_request(Body(9, 1).u32(0xffffffff).bytes()));
    EXPECT_FALSE(decode_reply(Body(0x89, 1).str(text_bytes(kMaxRandomSize + 1)).bytes()));
    EXPECT_FALSE(decode_reply(Body(0x81, 1).u32(1).str(text_bytes(kMaxTextSize + 1)).bytes()));

    // More entries than a client accepts, each present.
    Body keys(0x83, 1);
    keys.u32(kMaxListEntries + 1);
    EXPECT_FALSE(decode_reply(keys.bytes()));
}

TEST(ProtocolReject, BodyOverMaxMessageSize) {
    SignRequest big;
    big.key = "k";
    const size_t overhead = samples::request_body(1, big).size();
    big.data = text_bytes(kMaxMessageSize + 1 - overhead);
    const Bytes body = samples::request_body(1, big);
    ASSERT_EQ(body.size(), kMaxMessageSize + 1);
    EXPECT_FALSE(decode_request(body));

    const Bytes reply = samples::reply_body(1, SignReply{text_bytes(kMaxMessageSize)});
    EXPECT_FALSE(decode_reply(reply));
}

TEST(ProtocolReject, PinBytesWithoutHasPin) {
    const Bytes b = Body(7, 1).str("t").u8(0).u8(0).str("1234").bytes();
    EXPECT_FALSE(decode_request(b));
    // The same with has_pin = 1 is a PIN.
    const Bytes with = Body(7, 1).str("t").u8(0).u8(1).str("1234").bytes();
    EXPECT_TRUE(decode_request(with));
}

TEST(ProtocolReject, ListCountsLargerThanRemainingBytes) {
    // Counts the remaining bytes cannot hold, each checked without any entry present.
    for (uint32_t count : {1u, 2u, 100u, 4096u, 0xffffffffu}) {
        EXPECT_FALSE(decode_reply(Body(0x83, 1).u32(count).bytes())) << count;
        EXPECT_FALSE(
            decode_reply(Body(0x82, 1).str("a").u32(1).str("s").str("t").u32(count).bytes()))
            << count;
    }
    // A count of two with one whole entry.
    KeyEntry key;
    key.id = "k";
    key.spki = text_bytes(40);
    Bytes b = samples::reply_body(1, ListKeysReply{{key}});
    ASSERT_TRUE(decode_reply(b));
    put_u32(b, layout::kHeaderSize, 2);
    EXPECT_FALSE(decode_reply(b));
}

TEST(ProtocolReject, LyingListCountsAllocateLittle) {
    // A count the bytes could hold if entries were one byte each, followed by garbage: refused
    // before memory for `count` entries (hundreds of bytes each) is allocated.
    const Bytes garbage(kMaxListEntries, 0xff);
    Body keys(0x83, 1);
    keys.u32(kMaxListEntries);
    Body status(0x82, 1);
    status.str("a").u32(1).str("s").str("t").u32(kMaxListEntries);
    for (Body* b : {&keys, &status}) {
        Bytes body = b->bytes();
        body.insert(body.end(), garbage.begin(), garbage.end());
        testing::AllocWatch watch;
        const bool decoded = decode_reply(body).has_value();
        const size_t largest = watch.largest();
        EXPECT_FALSE(decoded);
        EXPECT_LT(largest, 16 * 1024u) << "for a body of " << body.size() << " bytes";
    }
}

TEST(ProtocolReject, ErrorReplyUnknownCode) {
    // Replies pin down the codec's choice: an error code this client does not know (a newer
    // agent's) still reaches the user with its message, as `internal`.
    for (uint32_t code : {0u, 17u, 0xffffffffu}) {
        auto decoded = decode_reply(Body(kErrorReply, 3).u32(code).u64(1).u64(2).str("m").bytes());
        ASSERT_TRUE(decoded) << code;
        const auto& e = std::get<ErrorReply>(decoded->reply);
        EXPECT_EQ(e.code, ErrorCode::internal);
        EXPECT_EQ(e.message, "m");
    }
}

TEST(ProtocolFrameLength, Bounds) {
    auto len = [](uint32_t v) {
        Bytes b(4);
        put_u32(b, 0, v);
        return frame_length(std::span<const uint8_t, 4>(b.data(), 4));
    };
    EXPECT_FALSE(len(0));
    EXPECT_FALSE(len(kMaxMessageSize + 1));
    EXPECT_FALSE(len(0x80000000u));
    EXPECT_FALSE(len(0xffffffffu));
    ASSERT_TRUE(len(1));
    EXPECT_EQ(*len(1), 1u);
    ASSERT_TRUE(len(kMaxMessageSize));
    EXPECT_EQ(*len(kMaxMessageSize), kMaxMessageSize);
    ASSERT_TRUE(len(0x01020304 % kMaxMessageSize));
    EXPECT_EQ(*len(0x01020304 % kMaxMessageSize), 0x01020304 % kMaxMessageSize);
    EXPECT_EQ(get_u32(encode_request(1, StatusRequest{}), 0), layout::kHeaderSize);
}

// ---- Versions -------------------------------------------------------------------------------

Bytes body_at(const Bytes& frame) {
    return Bytes(frame.begin() + 4, frame.end());
}

TEST(ProtocolVersions, SignContextPinRoundTrips) {
    SignRequest r;
    r.key = "k";
    r.data = Bytes(32, 1);
    Secret pin;
    ASSERT_TRUE(Secret::from(std::string_view("12\0"
                                              "4",
                                              4),
                             pin));
    r.context_pin = std::make_shared<const Secret>(std::move(pin));
    const Bytes body = samples::request_body(5, Request(std::move(r)));
    auto decoded = decode_request(body);
    ASSERT_TRUE(decoded) << decoded.error().message();
    const auto& got = std::get<SignRequest>(decoded->request);
    ASSERT_TRUE(got.context_pin);
    EXPECT_EQ(Bytes(got.context_pin->data(), got.context_pin->data() + got.context_pin->size()),
              (Bytes{'1', '2', 0, '4'}));
    EXPECT_TRUE(carries_pin(decoded->request));
    // Without a PIN: has_context_pin 0 and an empty string.
    SignRequest none;
    none.key = "k";
    const Bytes plain = samples::request_body(6, Request(std::move(none)));
    auto d = decode_request(plain);
    ASSERT_TRUE(d);
    EXPECT_FALSE(std::get<SignRequest>(d->request).context_pin);
    EXPECT_FALSE(carries_pin(d->request));
    EXPECT_EQ(Bytes(plain.end() - 5, plain.end()), (Bytes{0, 0, 0, 0, 0}));
}

TEST(ProtocolVersions, Version1RequestsHaveNoContextPin) {
    // A version 1 client's sign and decrypt end with their data.
    SignRequest r;
    r.key = "k";
    r.data = to_bytes("abc");
    const Bytes v1 = body_at(encode_request(3, Request(std::move(r)), 1));
    EXPECT_EQ(Bytes(v1.end() - 7, v1.end()), (Bytes{0, 0, 0, 3, 'a', 'b', 'c'}));
    auto at1 = decode_request(v1, 1);
    ASSERT_TRUE(at1) << at1.error().message();
    EXPECT_FALSE(std::get<SignRequest>(at1->request).context_pin);
    EXPECT_FALSE(decode_request(v1, 2)) << "version 2 expects the context PIN fields";
    // A version 2 body with a PIN is not a version 1 body.
    DecryptRequest d;
    d.key = "k";
    d.data = Bytes(8, 2);
    Secret pin;
    ASSERT_TRUE(Secret::from("1234", pin));
    d.context_pin = std::make_shared<const Secret>(std::move(pin));
    const Bytes v2 = body_at(encode_request(4, Request(std::move(d)), 2));
    EXPECT_FALSE(decode_request(v2, 1));
    EXPECT_TRUE(decode_request(v2, 2));
}

TEST(ProtocolVersions, Version1KeyListLeavesOutTheNewFields) {
    for (const auto& s : samples::replies()) {
        if (s.name != "list-keys")
            continue;
        const Bytes v1 = body_at(encode_reply(s.id, s.reply, 1));
        const Bytes v2 = samples::reply_body(s.id, s.reply);
        EXPECT_LT(v1.size(), v2.size());
        auto at1 = decode_reply(v1, 1);
        ASSERT_TRUE(at1) << at1.error().message();
        const auto& keys = std::get<ListKeysReply>(at1->reply);
        ASSERT_EQ(keys.keys.size(), 3u);
        EXPECT_FALSE(keys.keys[0].always_authenticate);
        EXPECT_EQ(keys.keys[0].decrypt_support, 0u);
        EXPECT_EQ(keys.keys[0].certificate_label, "");
        EXPECT_TRUE(keys.authorities.empty());
        EXPECT_EQ(keys.keys[0].certificate, std::get<ListKeysReply>(s.reply).keys[0].certificate);
        EXPECT_FALSE(decode_reply(v1, 2));
        EXPECT_FALSE(decode_reply(v2, 1));
        auto at2 = decode_reply(v2, 2);
        ASSERT_TRUE(at2);
        const auto& full = std::get<ListKeysReply>(at2->reply);
        EXPECT_TRUE(full.keys[0].always_authenticate);
        EXPECT_EQ(full.keys[0].certificate_label, "sign certificate");
        ASSERT_EQ(full.authorities.size(), 1u);
        EXPECT_EQ(full.authorities[0].label, "Issuing CA");
    }
}

}  // namespace
}  // namespace attache::protocol
