#include "agent/ssh/connection_binding.h"

#include <gtest/gtest.h>

#include "agent/ssh/keys.h"
#include "tests/ssh/test_keys.h"

namespace attache::ssh {
namespace {

using testing::blob_for;
using testing::key_for;
using testing::ssh_signature;

SessionBind bind_of(KeyType host, Bytes session_id, bool forwarding) {
    Bytes sig = ssh_signature(key_for(host), SSH_AGENT_RSA_SHA2_512, session_id);
    return SessionBind{blob_for(host), std::move(session_id), std::move(sig), forwarding};
}

TEST(ConnectionBinding, StartsUnbound) {
    ConnectionBinding b;
    EXPECT_FALSE(b.bound());
    EXPECT_FALSE(b.failed());
    EXPECT_FALSE(b.forwarded());
    EXPECT_EQ(b.last(), nullptr);
    EXPECT_EQ(b.destination(), "");
}

TEST(ConnectionBinding, AVerifiedBindNamesTheDestination) {
    ConnectionBinding b;
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEd25519, Bytes(32, 1), false)));
    EXPECT_TRUE(b.bound());
    EXPECT_FALSE(b.failed());
    EXPECT_FALSE(b.forwarded());
    EXPECT_EQ(b.destination(), fingerprint_sha256(blob_for(KeyType::kEd25519)));
    ASSERT_NE(b.last(), nullptr);
    EXPECT_EQ(b.last()->session_id, Bytes(32, 1));
}

TEST(ConnectionBinding, ABadSignatureMarksTheConnectionForGood) {
    ConnectionBinding b;
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEcdsaP256, Bytes(32, 1), true)));
    SessionBind forged = bind_of(KeyType::kEd25519, Bytes(32, 2), false);
    forged.signature.back() ^= 1;
    EXPECT_FALSE(b.bind(forged));
    EXPECT_TRUE(b.failed());
    EXPECT_EQ(b.bindings().size(), 1u);
    // A good bind afterwards does not clear it.
    EXPECT_TRUE(b.bind(bind_of(KeyType::kEd25519, Bytes(32, 3), false)));
    EXPECT_TRUE(b.failed());
}

TEST(ConnectionBinding, NoBindAfterOneForAuthentication) {
    ConnectionBinding b;
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEd25519, Bytes(32, 1), false)));
    auto again = b.bind(bind_of(KeyType::kEcdsaP256, Bytes(32, 2), true));
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message().find("already bound for authentication"), std::string::npos)
        << again.error().message();
    EXPECT_TRUE(b.failed());
    // Even the same binding again: OpenSSH checks the authentication bind first.
    ConnectionBinding c;
    ASSERT_TRUE(c.bind(bind_of(KeyType::kEd25519, Bytes(32, 1), false)));
    EXPECT_FALSE(c.bind(bind_of(KeyType::kEd25519, Bytes(32, 1), false)));
}

TEST(ConnectionBinding, ForwardingChainsRecordEachHop) {
    ConnectionBinding b;
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEcdsaP256, Bytes(32, 1), true)));
    EXPECT_TRUE(b.forwarded());
    // The same session id and key again (ssh binds each forwarded channel): accepted, no new
    // entry.
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEcdsaP256, Bytes(32, 1), true)));
    EXPECT_EQ(b.bindings().size(), 1u);
    // The same key for another session: several connections to one host.
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEcdsaP256, Bytes(32, 9), true)));
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEd25519, Bytes(32, 2), false)));
    EXPECT_EQ(b.bindings().size(), 3u);
    EXPECT_EQ(b.destination(), fingerprint_sha256(blob_for(KeyType::kEd25519)));
    EXPECT_TRUE(b.forwarded());
    EXPECT_FALSE(b.failed());
}

TEST(ConnectionBinding, ASessionIdBoundToAnotherKeyFails) {
    ConnectionBinding b;
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEcdsaP256, Bytes(32, 1), true)));
    auto other = b.bind(bind_of(KeyType::kEd25519, Bytes(32, 1), true));
    ASSERT_FALSE(other);
    EXPECT_TRUE(b.failed());
}

TEST(ConnectionBinding, AtMostSixteenBinds) {
    ConnectionBinding b;
    for (size_t i = 0; i < kMaxSessionBindings; ++i) {
        ASSERT_TRUE(b.bind(bind_of(KeyType::kEd25519, Bytes(32, static_cast<uint8_t>(i)), true)))
            << i;
    }
    EXPECT_FALSE(b.failed());
    EXPECT_FALSE(b.bind(bind_of(KeyType::kEd25519, Bytes(32, 0xee), true)));
    EXPECT_TRUE(b.failed());
    EXPECT_EQ(b.bindings().size(), kMaxSessionBindings);
}

}  // namespace
}  // namespace attache::ssh
