#include "agent/ssh/sign_facts.h"
#include "agent/request/ssh_sign_rules.h"

#include <gtest/gtest.h>

#include "agent/ssh/keys.h"
#include "tests/ssh/test_keys.h"

namespace attache::ssh {
namespace {

using testing::blob_for;
using testing::key_for;
using Payload = agent::SshFacts::Payload;

SessionBind bind_of(KeyType host, Bytes session_id, bool forwarding) {
    Bytes sig = testing::ssh_signature(key_for(host), 0, session_id);
    return SessionBind{blob_for(host), std::move(session_id), std::move(sig), forwarding};
}

UserauthPayload userauth(Bytes session_id) {
    return UserauthPayload{std::move(session_id), "alice", "ssh-ed25519", false, {}};
}

TEST(SignFacts, UnboundConnection) {
    const ConnectionBinding none;
    auto f = sign_facts(none, userauth(Bytes(32, 1)), false);
    EXPECT_FALSE(f.bound);
    EXPECT_FALSE(f.bind_failed);
    EXPECT_FALSE(f.forwarded);
    EXPECT_EQ(f.destination, "");
    EXPECT_EQ(f.payload, Payload::userauth);
    EXPECT_FALSE(f.session_id_matches);
    EXPECT_FALSE(agent::ssh_sign_refusal(f, agent::SshSignRules{}))
        << "a client without session-bind logs in";
}

TEST(SignFacts, UserauthForTheBoundSession) {
    ConnectionBinding b;
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEd25519, Bytes(32, 1), false)));
    auto f = sign_facts(b, userauth(Bytes(32, 1)), true);
    EXPECT_TRUE(f.bound);
    EXPECT_EQ(f.destination, fingerprint_sha256(blob_for(KeyType::kEd25519)));
    EXPECT_TRUE(f.session_id_matches);
    EXPECT_TRUE(f.confirm_constraint);
    EXPECT_FALSE(agent::ssh_sign_refusal(f, agent::SshSignRules{}));

    auto other = sign_facts(b, userauth(Bytes(32, 2)), false);
    EXPECT_FALSE(other.session_id_matches);
    auto why = agent::ssh_sign_refusal(other, agent::SshSignRules{});
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("another session"), std::string::npos) << *why;
}

TEST(SignFacts, HostboundUserauthMustNameTheBoundHostKey) {
    ConnectionBinding b;
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEd25519, Bytes(32, 1), false)));
    UserauthPayload u = userauth(Bytes(32, 1));
    u.hostbound = true;
    u.hostkey = blob_for(KeyType::kEd25519);
    EXPECT_TRUE(sign_facts(b, u, false).session_id_matches);
    u.hostkey = blob_for(KeyType::kEcdsaP256);
    EXPECT_FALSE(sign_facts(b, u, false).session_id_matches);
}

TEST(SignFacts, AFailedBindRefusesEverything) {
    ConnectionBinding b;
    SessionBind forged = bind_of(KeyType::kEd25519, Bytes(32, 1), false);
    forged.signature.back() ^= 1;
    ASSERT_FALSE(b.bind(forged));
    for (const SignPayload& p :
         {SignPayload(userauth(Bytes(32, 1))), SignPayload(SshsigPayload{"git", "sha512"})}) {
        auto f = sign_facts(b, p, false);
        EXPECT_TRUE(f.bind_failed);
        auto why = agent::ssh_sign_refusal(f, agent::SshSignRules{});
        ASSERT_TRUE(why);
        EXPECT_NE(why->find("session-bind"), std::string::npos) << *why;
    }
}

TEST(SignFacts, ForwardedConnectionsAreRefusedUnlessAllowed) {
    ConnectionBinding b;
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEcdsaP256, Bytes(32, 1), true)));
    ASSERT_TRUE(b.bind(bind_of(KeyType::kEd25519, Bytes(32, 2), false)));
    UserauthPayload u = userauth(Bytes(32, 2));
    u.hostbound = true;
    u.hostkey = blob_for(KeyType::kEd25519);
    auto f = sign_facts(b, u, false);
    EXPECT_TRUE(f.forwarded);
    EXPECT_TRUE(f.session_id_matches);
    auto why = agent::ssh_sign_refusal(f, agent::SshSignRules{});
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("forwarded"), std::string::npos) << *why;
    EXPECT_FALSE(agent::ssh_sign_refusal(f, agent::SshSignRules{.allow_forwarded = true}));
    // Over a chain, a plain publickey request (no host key in it) does not match.
    EXPECT_FALSE(sign_facts(b, userauth(Bytes(32, 2)), false).session_id_matches);
}

TEST(SignFacts, SshsigNamespaces) {
    const ConnectionBinding none;
    for (const char* ns : {"git", "file"}) {
        auto f = sign_facts(none, SshsigPayload{ns, "sha512"}, false);
        EXPECT_EQ(f.payload, Payload::sshsig);
        EXPECT_EQ(f.sshsig_namespace, ns);
        EXPECT_FALSE(agent::ssh_sign_refusal(f, agent::SshSignRules{})) << ns;
    }
    auto evil = sign_facts(none, SshsigPayload{"evil", "sha512"}, false);
    auto why = agent::ssh_sign_refusal(evil, agent::SshSignRules{});
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("\"evil\""), std::string::npos) << *why;
    EXPECT_NE(why->find("ssh.sshsig_namespaces"), std::string::npos) << *why;
    EXPECT_FALSE(agent::ssh_sign_refusal(
        evil,
        agent::SshSignRules{.namespace_allowed = [](std::string_view n) { return n == "evil"; }}));
}

TEST(SignFacts, OtherDataIsRefused) {
    const ConnectionBinding none;
    auto f = sign_facts(none, OtherPayload{"x"}, false);
    EXPECT_EQ(f.payload, Payload::other);
    auto why = agent::ssh_sign_refusal(f, agent::SshSignRules{});
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("neither"), std::string::npos) << *why;
}

}  // namespace
}  // namespace attache::ssh
