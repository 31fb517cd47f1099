// attache-agent on a TPM token (swtpm + tpm2-pkcs11, tests/tpm/tpm_fixture.h): the token's
// padded label comes out trimmed in `status`, the token URI that `status` prints unlocks it,
// and the TPM's P-256 and RSA keys sign what OpenSSL verifies.

#include "pkcs11/agent_protocol/client.h"
#include "tests/support/softhsm.h"
#include "tests/tpm/tpm_fixture.h"

namespace attache::testing {

// Signs with the key (named by its URI, as a user names it) through the agent's CLI and
// checks the signature with OpenSSL against the public key the agent gives.
void TpmTokenTest::signs_and_openssl_verifies(const std::string& label) {
    const std::string msg = write_temp(dir_, "msg", to_bytes("signed in the TPM\n"));
    const std::string other = write_temp(dir_, "other", to_bytes("not signed\n"));
    const auto key = agent_.key(label);
    EXPECT_TRUE(key.served) << agent_.log();
    EXPECT_EQ(key.operations, uint32_t{protocol::kOpSign});
    const std::string sig = (dir_ / (label + ".sig")).string();
    auto s = agent_.cli({"sign", "--key", key.uri, "--in", msg, "--out", sig});
    ASSERT_EQ(s.exit_code, 0) << describe(s) << agent_.log();
    const std::string pub = (dir_ / (label + ".pub.pem")).string();
    auto p = agent_.cli({"pubkey", "--key", key.id, "--out", pub});
    ASSERT_EQ(p.exit_code, 0) << describe(p);
    auto v = run_command({"openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, msg});
    EXPECT_EQ(v.exit_code, 0) << describe(v);
    EXPECT_NE(v.out.find("Verified OK"), std::string::npos) << describe(v);
    auto bad =
        run_command({"openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, other});
    EXPECT_NE(bad.exit_code, 0) << describe(bad);
}

TEST_F(TpmTokenTest, StatusShowsTheTrimmedLabelAndItsUriUnlocksTheToken) {
    const auto status_token = token();
    EXPECT_EQ(status_token.label, kLabel) << agent_.log();
    EXPECT_EQ(status_token.uri.find("%00"), std::string::npos) << status_token.uri;
    EXPECT_NE(status_token.uri.find(std::string("token=") + kLabel), std::string::npos)
        << status_token.uri;
    EXPECT_FALSE(status_token.unlocked);

    auto status = agent_.cli({"status"});
    EXPECT_EQ(status.exit_code, 0) << describe(status);
    EXPECT_NE(status.out.find(kLabel), std::string::npos) << status.out;
    EXPECT_EQ(status.out.find('\0'), std::string::npos) << status.out;

    // A wrong PIN does not unlock it; the URI that `status` prints with the right one does.
    auto wrong =
        agent_.cli({"unlock", "--token", status_token.uri, "--pin-source", "fd:0"}, "999999\n");
    EXPECT_NE(wrong.exit_code, 0) << describe(wrong);
    EXPECT_FALSE(token().unlocked);
    auto unlock = agent_.cli({"unlock", "--token", status_token.uri, "--pin-source", "fd:0"},
                             std::string(SoftHsm::kUserPin) + "\n");
    EXPECT_EQ(unlock.exit_code, 0) << describe(unlock) << agent_.log();
    EXPECT_TRUE(token().unlocked);
}

// Both keys in one agent: the resource manager swaps them in and out of the TPM.
TEST_F(TpmTokenTest, TheTpmsP256AndRsaKeysSignWhatOpensslVerifies) {
    agent_.unlock(token().uri);
    for (const char* label : {"tpm-ec", "tpm-rsa"}) {
        SCOPED_TRACE(label);
        signs_and_openssl_verifies(label);
    }
    // Again, the other way round (each key loaded back in).
    signs_and_openssl_verifies("tpm-rsa");
    signs_and_openssl_verifies("tpm-ec");
}

}  // namespace attache::testing
