#include "agent/ssh/constraints.h"

#include <gtest/gtest.h>

#include "tests/ssh/test_keys.h"

namespace attache::ssh {
namespace {

using testing::blob_for;

DestinationConstraint to_host(std::string host) {
    DestinationConstraint d;
    d.to.hostname = std::move(host);
    d.to.keys.push_back({blob_for(KeyType::kEd25519), false});
    return d;
}

bool same(const KeyConstraints& a, const KeyConstraints& b) {
    return encode_constraints(a) == encode_constraints(b);
}

TEST(Constraints, EmptyIsNone) {
    auto c = decode_constraints(Bytes{});
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->empty());
}

TEST(Constraints, LifetimeAndConfirmAsSshAddSendsThem) {
    // ssh-add -c -t 60: lifetime first, then confirm.
    auto c = decode_constraints(Bytes{1, 0, 0, 0, 60, 2});
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->lifetime_seconds, 60u);
    EXPECT_TRUE(c->confirm);
    EXPECT_FALSE(c->destinations);
    EXPECT_FALSE(c->empty());
    EXPECT_EQ(encode_constraints(*c), (Bytes{1, 0, 0, 0, 60, 2}));
}

TEST(Constraints, DestinationsRoundTrip) {
    KeyConstraints c;
    DestinationConstraint first = to_host("server.example");
    first.to.user = "alice";
    DestinationConstraint second = to_host("db.example");
    second.from.hostname = "server.example";
    second.from.keys.push_back({blob_for(KeyType::kEcdsaP256), true});
    c.destinations = std::vector<DestinationConstraint>{first, second};
    auto decoded = decode_constraints(encode_constraints(c));
    ASSERT_TRUE(decoded) << decoded.error().message();
    ASSERT_TRUE(decoded->destinations);
    ASSERT_EQ(decoded->destinations->size(), 2u);
    EXPECT_EQ((*decoded->destinations)[0].to.user, "alice");
    EXPECT_EQ((*decoded->destinations)[1].from.hostname, "server.example");
    EXPECT_TRUE((*decoded->destinations)[1].from.keys[0].is_ca);
    EXPECT_TRUE(same(*decoded, c));

    KeyConstraints certs;
    certs.certificates = AssociatedCerts{true, {Bytes{1, 2, 3}}};
    auto with_certs = decode_constraints(encode_constraints(certs));
    ASSERT_TRUE(with_certs) << with_certs.error().message();
    ASSERT_TRUE(with_certs->certificates);
    EXPECT_TRUE(with_certs->certificates->certs_only);
}

TEST(Constraints, MalformedOrUnknownIsAnError) {
    EXPECT_FALSE(decode_constraints(Bytes{1, 0, 0}));                       // short lifetime
    EXPECT_FALSE(decode_constraints(Bytes{1, 0, 0, 0, 1, 1, 0, 0, 0, 2}));  // lifetime twice
    EXPECT_FALSE(decode_constraints(Bytes{2, 2}));                          // confirm twice
    EXPECT_FALSE(decode_constraints(Bytes{3, 0, 0, 0, 1}));  // maxsign: not for card keys
    EXPECT_FALSE(decode_constraints(Bytes{0x42}));
    Writer sk;
    sk.u8(SSH_AGENT_CONSTRAIN_EXTENSION).string("sk-provider@openssh.com").string("internal");
    EXPECT_FALSE(decode_constraints(sk.bytes()));
    Writer unknown;
    unknown.u8(SSH_AGENT_CONSTRAIN_EXTENSION).string("foo@example.com");
    EXPECT_FALSE(decode_constraints(unknown.bytes()));

    auto refused = [](DestinationConstraint d) {
        KeyConstraints c;
        c.destinations = std::vector<DestinationConstraint>{std::move(d)};
        return !decode_constraints(encode_constraints(c));
    };
    DestinationConstraint d = to_host("h");
    d.from.user = "bob";
    EXPECT_TRUE(refused(d)) << "a from user";
    d = to_host("h");
    d.from.hostname = "jump";  // without keys
    EXPECT_TRUE(refused(d));
    d = to_host("h");
    d.from.keys.push_back({blob_for(KeyType::kEd25519), false});  // keys without a hostname
    EXPECT_TRUE(refused(d));
    d = to_host("");
    EXPECT_TRUE(refused(d)) << "no to hostname";
    d = to_host("h");
    d.to.keys.clear();
    EXPECT_TRUE(refused(d)) << "no to keys";
    d = to_host("h");
    d.to.keys[0].key_blob = Bytes{0, 0, 0, 1, 'x'};
    EXPECT_TRUE(refused(d)) << "a key that does not parse";
    d = to_host("h");
    d.to.user = std::string(kMaxConstraintUserSize + 1, 'u');
    EXPECT_TRUE(refused(d));
    d = to_host("h");
    d.to.user = std::string(kMaxConstraintUserSize, 'u');
    EXPECT_FALSE(refused(d));

    KeyConstraints twice;
    twice.destinations = std::vector<DestinationConstraint>{to_host("h")};
    Bytes doubled = encode_constraints(twice);
    const Bytes once = doubled;
    doubled.insert(doubled.end(), once.begin(), once.end());
    EXPECT_FALSE(decode_constraints(doubled));

    Bytes truncated = once;
    truncated.pop_back();
    EXPECT_FALSE(decode_constraints(truncated));
}

}  // namespace
}  // namespace attache::ssh
