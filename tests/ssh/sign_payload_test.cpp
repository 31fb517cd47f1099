#include "agent/ssh/sign_payload.h"

#include <gtest/gtest.h>

#include "agent/ssh/keys.h"
#include "tests/ssh/test_keys.h"

namespace attache::ssh {
namespace {

using testing::blob_for;

struct Userauth {
    Bytes session_id = Bytes(32, 0x5a);
    std::uint8_t type = SSH_MSG_USERAUTH_REQUEST;
    std::string user = "alice";
    std::string service = "ssh-connection";
    std::string method = std::string(kMethodPublickey);
    std::uint8_t sig_follows = 1;
    std::string algorithm = "ssh-ed25519";
    Bytes key = blob_for(KeyType::kEd25519);
    Bytes hostkey;  // written when the method is hostbound

    Bytes encode() const {
        Writer w;
        w.string(session_id).u8(type).string(user).string(service).string(method);
        w.u8(sig_follows).string(algorithm).string(key);
        if (method == kMethodHostbound)
            w.string(hostkey);
        return w.take();
    }
};

Bytes sshsig(std::string_view ns, std::string_view hash_alg, size_t hash_size) {
    Writer w;
    w.raw(as_bytes(kSshsigMagic)).string(ns).string("").string(hash_alg);
    w.string(Bytes(hash_size, 0x42));
    return w.take();
}

TEST(ClassifySignData, PublickeyUserauth) {
    Userauth u;
    auto payload = classify_sign_data(u.encode(), u.key);
    auto* got = std::get_if<UserauthPayload>(&payload);
    ASSERT_NE(got, nullptr) << std::get<OtherPayload>(payload).why;
    EXPECT_EQ(got->session_id, u.session_id);
    EXPECT_EQ(got->user, "alice");
    EXPECT_EQ(got->algorithm, "ssh-ed25519");
    EXPECT_FALSE(got->hostbound);
    EXPECT_TRUE(got->hostkey.empty());
}

TEST(ClassifySignData, HostboundUserauthCarriesTheHostKey) {
    Userauth u;
    u.method = std::string(kMethodHostbound);
    u.hostkey = blob_for(KeyType::kEcdsaP256);
    auto payload = classify_sign_data(u.encode(), u.key);
    auto* got = std::get_if<UserauthPayload>(&payload);
    ASSERT_NE(got, nullptr) << std::get<OtherPayload>(payload).why;
    EXPECT_TRUE(got->hostbound);
    EXPECT_EQ(got->hostkey, u.hostkey);

    u.hostkey = Bytes{1, 2, 3};  // not a key
    EXPECT_TRUE(std::holds_alternative<OtherPayload>(classify_sign_data(u.encode(), u.key)));
}

TEST(ClassifySignData, RsaAlgorithmsOfTheKey) {
    for (const char* alg : {"rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"}) {
        Userauth u;
        u.key = blob_for(KeyType::kRsa);
        u.algorithm = alg;
        EXPECT_TRUE(std::holds_alternative<UserauthPayload>(classify_sign_data(u.encode(), u.key)))
            << alg;
    }
    Userauth ec;
    ec.key = blob_for(KeyType::kEcdsaP256);
    ec.algorithm = "ecdsa-sha2-nistp384";
    EXPECT_TRUE(std::holds_alternative<OtherPayload>(classify_sign_data(ec.encode(), ec.key)));
}

TEST(ClassifySignData, AnythingOffIsOther) {
    auto other = [](const Userauth& u, ByteView key) {
        return std::holds_alternative<OtherPayload>(classify_sign_data(u.encode(), key));
    };
    const Userauth good;
    EXPECT_TRUE(other(good, blob_for(KeyType::kEcdsaP256))) << "another key asked to sign";
    Userauth u = good;
    u.session_id.clear();
    EXPECT_TRUE(other(u, u.key));
    u = good;
    u.type = 51;
    EXPECT_TRUE(other(u, u.key));
    u = good;
    u.service = "ssh-userauth";
    EXPECT_TRUE(other(u, u.key));
    u = good;
    u.method = "hostbased";
    EXPECT_TRUE(other(u, u.key));
    u = good;
    u.sig_follows = 0;
    EXPECT_TRUE(other(u, u.key));
    u = good;
    u.sig_follows = 2;  // OpenSSH wants exactly 1
    EXPECT_TRUE(other(u, u.key));
    u = good;
    u.user = std::string("ali\0ce", 6);
    EXPECT_TRUE(other(u, u.key));
    u = good;
    u.algorithm = "ssh-rsa";
    EXPECT_TRUE(other(u, u.key));

    Bytes trailing = good.encode();
    trailing.push_back(0);
    EXPECT_TRUE(std::holds_alternative<OtherPayload>(classify_sign_data(trailing, good.key)));
    Bytes truncated = good.encode();
    truncated.pop_back();
    EXPECT_TRUE(std::holds_alternative<OtherPayload>(classify_sign_data(truncated, good.key)));
}

TEST(ClassifySignData, Sshsig) {
    for (auto [alg, size] : {std::pair{"sha256", 32}, std::pair{"sha512", 64}}) {
        auto payload = classify_sign_data(sshsig("git", alg, static_cast<size_t>(size)),
                                          blob_for(KeyType::kEd25519));
        auto* got = std::get_if<SshsigPayload>(&payload);
        ASSERT_NE(got, nullptr) << std::get<OtherPayload>(payload).why;
        EXPECT_EQ(got->name_space, "git");
        EXPECT_EQ(got->hash_algorithm, alg);
    }
    const Bytes key = blob_for(KeyType::kEd25519);
    auto is_other = [&](const Bytes& data) {
        return std::holds_alternative<OtherPayload>(classify_sign_data(data, key));
    };
    EXPECT_TRUE(is_other(sshsig("git", "sha256", 64)));
    EXPECT_TRUE(is_other(sshsig("git", "sha512", 32)));
    EXPECT_TRUE(is_other(sshsig("git", "sha1", 20)));
    EXPECT_TRUE(is_other(sshsig("", "sha512", 64)));
    Bytes trailing = sshsig("file", "sha512", 64);
    trailing.push_back(1);
    EXPECT_TRUE(is_other(trailing));
    Bytes magic = sshsig("file", "sha512", 64);
    magic[0] = 's';
    EXPECT_TRUE(is_other(magic));
}

TEST(ClassifySignData, CertificatesAndRandomBytesAreOther) {
    const Bytes key = blob_for(KeyType::kEcdsaP256);
    auto payload =
        classify_sign_data(testing::x509_tbs(testing::key_for(KeyType::kEcdsaP256)), key);
    auto* other = std::get_if<OtherPayload>(&payload);
    ASSERT_NE(other, nullptr);
    EXPECT_NE(other->why.find("userauth"), std::string::npos) << other->why;
    EXPECT_TRUE(std::holds_alternative<OtherPayload>(classify_sign_data(Bytes{}, key)));
    EXPECT_TRUE(
        std::holds_alternative<OtherPayload>(classify_sign_data(to_bytes("hello world"), key)));
}

}  // namespace
}  // namespace attache::ssh
