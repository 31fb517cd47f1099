// Signatures and decryptions through the agent, checked by the real `openssl`.

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "cli/exit_codes.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/public_key.h"
#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

class CryptoTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        agent_ = new AgentFixture;
        agent_->add_token("alice", default_keys());
        agent_->start();
        agent_->unlock();
    }
    static void TearDownTestSuite() {
        delete agent_;
        agent_ = nullptr;
    }

    std::string pubkey_file(const std::string& label) {
        auto r = agent_->cli({"pubkey", "--key", agent_->key(label).id});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        const auto path = tmp_ / (label + ".pub.pem");
        write_file(path, r.out);
        return path.string();
    }

    static AgentFixture* agent_;
    TempDir tmp_;
};

AgentFixture* CryptoTest::agent_ = nullptr;

TEST_F(CryptoTest, KeysAreListedWithTheirPolicy) {
    auto r = agent_->cli({"keys", "--json"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    for (const char* label : {"ec-sign", "rsa-sign", "ed-sign", "rsa-decrypt", "ec-derive"}) {
        EXPECT_NE(r.out.find(std::string("\"label\": \"") + label + "\""), std::string::npos)
            << label << "\n"
            << r.out;
    }
    auto ec = agent_->key("ec-sign");
    EXPECT_TRUE(ec.served);
    EXPECT_EQ(ec.operations, uint32_t{protocol::kOpSign});
    EXPECT_EQ(agent_->key("rsa-decrypt").operations, uint32_t{protocol::kOpDecrypt});
    EXPECT_EQ(agent_->key("ec-derive").operations, uint32_t{protocol::kOpDerive});
    EXPECT_EQ(ec.id.size(), 16u);
    EXPECT_TRUE(ec.uri.starts_with("pkcs11:")) << ec.uri;
}

TEST_F(CryptoTest, SignaturesVerifyWithOpenssl) {
    const std::string msg = write_temp(tmp_, "msg", to_bytes("a diplomatic cable\n"));
    for (const char* label : {"ec-sign", "rsa-sign"}) {
        const std::string sig = (tmp_ / (std::string(label) + ".sig")).string();
        auto s = agent_->cli({"sign", "--key", agent_->key(label).id, "--in", msg, "--out", sig});
        ASSERT_EQ(s.exit_code, 0) << describe(s);
        auto v = run_command(
            {"openssl", "dgst", "-sha256", "-verify", pubkey_file(label), "-signature", sig, msg});
        EXPECT_EQ(v.exit_code, 0) << label << "\n" << describe(v);
        // A different message must not verify.
        const std::string other = write_temp(tmp_, "other", to_bytes("another cable\n"));
        auto bad = run_command({"openssl", "dgst", "-sha256", "-verify", pubkey_file(label),
                                "-signature", sig, other});
        EXPECT_NE(bad.exit_code, 0) << label;
    }
}

TEST_F(CryptoTest, Ed25519SignatureVerifiesWithOpenssl) {
    const std::string msg = write_temp(tmp_, "msg", to_bytes("pure eddsa"));
    const std::string sig = (tmp_ / "ed.sig").string();
    auto s = agent_->cli({"sign", "--key", agent_->key("ed-sign").uri, "--in", msg, "--out", sig});
    ASSERT_EQ(s.exit_code, 0) << describe(s);
    auto v = run_command({"openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                          pubkey_file("ed-sign"), "-rawin", "-in", msg, "-sigfile", sig});
    EXPECT_EQ(v.exit_code, 0) << describe(v);
}

TEST_F(CryptoTest, RsaPssAndSha512AndRawEcdsa) {
    const std::string msg = write_temp(tmp_, "msg", to_bytes("pss"));
    const std::string sig = (tmp_ / "pss.sig").string();
    auto s = agent_->cli({"sign", "--key", agent_->key("rsa-sign").id, "--mechanism",
                          "rsa-pss-sha256", "--in", msg, "--out", sig});
    ASSERT_EQ(s.exit_code, 0) << describe(s);
    auto v = run_command({"openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss",
                          "-sigopt", "rsa_pss_saltlen:32", "-verify", pubkey_file("rsa-sign"),
                          "-signature", sig, msg});
    EXPECT_EQ(v.exit_code, 0) << describe(v);

    auto s512 = agent_->cli({"sign", "--key", agent_->key("rsa-sign").id, "--mechanism",
                             "rsa-pkcs1-sha512", "--in", msg, "--out", sig});
    ASSERT_EQ(s512.exit_code, 0) << describe(s512);
    auto v512 = run_command(
        {"openssl", "dgst", "-sha512", "-verify", pubkey_file("rsa-sign"), "-signature", sig, msg});
    EXPECT_EQ(v512.exit_code, 0) << describe(v512);

    auto raw = agent_->cli({"sign", "--key", agent_->key("ec-sign").id, "--raw"}, "x");
    ASSERT_EQ(raw.exit_code, 0) << describe(raw);
    EXPECT_EQ(raw.out.size(), 64u);
}

TEST_F(CryptoTest, PrehashedDigestSignsTheSame) {
    const Bytes data = to_bytes("prehashed");
    const Bytes digest = p11::digest(p11::Hash::sha256, data);
    auto s = agent_->cli({"sign", "--key", agent_->key("rsa-sign").id, "--prehashed"},
                         std::string(digest.begin(), digest.end()));
    ASSERT_EQ(s.exit_code, 0) << describe(s);
    const std::string msg = write_temp(tmp_, "msg", data);
    const std::string sig = write_temp(tmp_, "sig", to_bytes(s.out));
    auto v = run_command(
        {"openssl", "dgst", "-sha256", "-verify", pubkey_file("rsa-sign"), "-signature", sig, msg});
    EXPECT_EQ(v.exit_code, 0) << describe(v);
    auto wrong = agent_->cli({"sign", "--key", agent_->key("rsa-sign").id, "--prehashed"}, "short");
    EXPECT_EQ(wrong.exit_code, cli::kUsage) << describe(wrong);
}

TEST_F(CryptoTest, DecryptsWhatOpensslEncrypted) {
    const std::string plain = write_temp(tmp_, "plain", to_bytes("session key 0123456789"));
    const std::string pub = pubkey_file("rsa-decrypt");
    struct Case {
        const char* mechanism;
        std::vector<std::string> pkeyopts;
    } cases[] = {{"rsa-oaep-sha1", {"-pkeyopt", "rsa_padding_mode:oaep"}},
                 {"rsa-pkcs1", {"-pkeyopt", "rsa_padding_mode:pkcs1"}}};
    for (const auto& c : cases) {
        const std::string enc = (tmp_ / "enc").string();
        std::vector<std::string> argv{"openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey",
                                      pub,       "-in",     plain,      "-out",   enc};
        argv.insert(argv.end(), c.pkeyopts.begin(), c.pkeyopts.end());
        auto e = run_command(argv);
        ASSERT_EQ(e.exit_code, 0) << describe(e);
        const std::string out = (tmp_ / "dec").string();
        auto d = agent_->cli({"decrypt", "--key", agent_->key("rsa-decrypt").id, "--mechanism",
                              c.mechanism, "--in", enc, "--out", out});
        ASSERT_EQ(d.exit_code, 0) << c.mechanism << "\n" << describe(d);
        EXPECT_EQ(read_file(out), "session key 0123456789") << c.mechanism;
    }
}

TEST_F(CryptoTest, KeyUsageIsEnforced) {
    // A sign-only key does not decrypt; a decrypt-only key does not sign.
    auto d = agent_->cli({"decrypt", "--key", agent_->key("rsa-sign").id}, std::string(256, 'x'));
    EXPECT_EQ(d.exit_code, cli::kRefusedByPolicy) << describe(d);
    auto s = agent_->cli({"sign", "--key", agent_->key("rsa-decrypt").id}, "data");
    EXPECT_EQ(s.exit_code, cli::kRefusedByPolicy) << describe(s);
    auto none = agent_->cli({"sign", "--key", "0000000000000000"}, "data");
    EXPECT_EQ(none.exit_code, cli::kKeyNotFound) << describe(none);
}

TEST_F(CryptoTest, EcdhMatchesOpenssl) {
    auto key = agent_->key("ec-derive");
    auto ours = p11::pkey_from_spki(key.spki);
    ASSERT_TRUE(ours);
    // A peer key made by OpenSSL on the same curve.
    EVP_PKEY* peer = EVP_EC_gen("P-256");
    ASSERT_NE(peer, nullptr);
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(peer, "pub", nullptr, 0, &len);
    Bytes point(len);
    EVP_PKEY_get_octet_string_param(peer, "pub", point.data(), len, &len);

    auto c = agent_->client();
    auto reply = c.call(protocol::DeriveRequest{key.id, point});
    ASSERT_TRUE(reply);
    auto* derived = std::get_if<protocol::DeriveReply>(&*reply);
    ASSERT_NE(derived, nullptr) << std::get<protocol::ErrorReply>(*reply).message;

    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(peer, nullptr);
    ASSERT_EQ(EVP_PKEY_derive_init(ctx), 1);
    ASSERT_EQ(EVP_PKEY_derive_set_peer(ctx, ours->get()), 1);
    size_t slen = 0;
    EVP_PKEY_derive(ctx, nullptr, &slen);
    Bytes expected(slen);
    EVP_PKEY_derive(ctx, expected.data(), &slen);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EXPECT_EQ(derived->secret, expected);
}

}  // namespace
}  // namespace attache::testing
