// NSS, the library under Thunderbird and Firefox, through attache-pkcs11.so: certutil lists the
// card's certificates, cmsutil signs S/MIME (RSA and EC keys) and decrypts it (RSA), and every
// result is checked by OpenSSL. With the agent unlocked NSS must not ask for a login at all (the
// cause of Thunderbird's and Firefox's hang); locked, the unlock is the agent's pinentry.

#include <filesystem>

#include "tests/forwarding/forwarding_fixture.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

// What NSS's tools say when NSS asks them for a login to a token with a protected
// authentication path (secutil.c): the prompt goes to the terminal, and without one (as
// here) this goes to standard error.
constexpr const char* kNssPrompt = "Error opening input terminal";

class NssTest : public ForwardingTest {
  protected:
    // An NSS database with the module added (modutil) and the test CA trusted.
    void make_database() {
        db_ = "sql:" + (agent_.dir() / "nssdb").string();
        std::filesystem::create_directories(agent_.dir() / "nssdb");
        auto made = nss({"certutil", "-N", "-d", db_, "--empty-password"});
        ASSERT_EQ(made.exit_code, 0) << describe(made);
        auto added = nss({"modutil", "-dbdir", db_, "-add", "attache", "-libfile",
                          forwarding_module_path(), "-force"});
        ASSERT_EQ(added.exit_code, 0) << describe(added);
        const std::string ca = write("ca.pem", ca_.cert_pem());
        auto trusted =
            nss({"certutil", "-A", "-d", db_, "-n", "test-ca", "-t", "C,C,C", "-a", "-i", ca});
        ASSERT_EQ(trusted.exit_code, 0) << describe(trusted);
        ca_file_ = ca;
    }

    // NSS tools never wait for a terminal here: no input, and a bound on a hang.
    CommandResult nss(const std::vector<std::string>& argv) {
        std::vector<std::string> bounded = {"setsid", "-w"};
        bounded.insert(bounded.end(), argv.begin(), argv.end());
        return run_command_within(60000, bounded, tool_env());
    }

    // cmsutil -S with the card's key; OpenSSL verifies the signature against the card's
    // certificate and the CA and gives back the signed content.
    void sign_and_verify(const std::string& label) {
        SCOPED_TRACE(label);
        const std::string content = write("content.txt", "signed by the card\r\n");
        const std::string signed_der = (agent_.dir() / (label + ".p7s")).string();
        // As mail clients sign: signed attributes (-G signing time, -P S/MIME capabilities;
        // without them NSS 3.87 leaves an ECDSA signature raw r||s, which no verifier takes).
        // -Y NONE: no encryption-key preference (cmsutil would look for another certificate).
        auto s = nss({"cmsutil", "-S", "-G", "-P", "-N", "alice:" + label, "-Y", "NONE", "-H",
                      "SHA256", "-i", content, "-o", signed_der, "-d", db_});
        ASSERT_EQ(s.exit_code, 0) << describe(s);
        const std::string out = (agent_.dir() / (label + ".out")).string();
        auto v = run_command({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                              signed_der, "-CAfile", ca_file_, "-purpose", "any", "-out", out});
        EXPECT_EQ(v.exit_code, 0) << describe(v);
        EXPECT_NE((v.out + v.err).find("Verification successful"), std::string::npos)
            << describe(v);
        EXPECT_EQ(read_file(out), read_file(content));
        // The signer is the card's certificate.
        auto signer = run_command(
            {"openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", signed_der});
        EXPECT_NE(signer.out.find("alice " + label), std::string::npos) << signer.out;
    }

    // OpenSSL encrypts to the card's certificate; cmsutil -D decrypts with the card's key.
    void encrypt_and_decrypt(const std::string& label) {
        SCOPED_TRACE(label);
        const std::string plain = write("plain.txt", "for the card's eyes only\r\n");
        const std::string enveloped = (agent_.dir() / (label + ".p7m")).string();
        auto e = run_command({"openssl", "cms", "-encrypt", "-binary", "-aes256", "-in", plain,
                              "-outform", "DER", "-out", enveloped, certificate_pem(label)});
        ASSERT_EQ(e.exit_code, 0) << describe(e);
        const std::string out = (agent_.dir() / (label + ".plain")).string();
        auto d = nss({"cmsutil", "-D", "-i", enveloped, "-o", out, "-d", db_});
        ASSERT_EQ(d.exit_code, 0) << describe(d);
        EXPECT_EQ(read_file(out), read_file(plain));
    }

    std::string db_;
    std::string ca_file_;
};

TEST_F(NssTest, UnlockedAgentListsCertificatesWithoutALoginPrompt) {
    start_agent({alice_token(false)});
    agent_.unlock();
    make_database();
    auto listed = nss({"certutil", "-L", "-h", "all", "-d", db_});
    ASSERT_EQ(listed.exit_code, 0) << describe(listed);
    ASSERT_FALSE(listed.timed_out);
    for (const char* label : {"ec-sign", "rsa-sign", "rsa-decrypt", "ec-derive"})
        EXPECT_NE(listed.out.find(std::string("alice:") + label), std::string::npos) << listed.out;
    // The agent is unlocked: NSS sees a logged-in token and asks nobody for a PIN. (It asked
    // before the fix, and Thunderbird's and Firefox's dialog for that prompt never closed.)
    EXPECT_EQ((listed.out + listed.err).find(kNssPrompt), std::string::npos) << describe(listed);
    // Private keys are listed too: the session is a user session.
    auto keys = nss({"certutil", "-K", "-h", "all", "-d", db_});
    EXPECT_EQ(keys.exit_code, 0) << describe(keys);
    EXPECT_NE(keys.out.find("rsa-sign"), std::string::npos) << describe(keys);
    EXPECT_EQ((keys.out + keys.err).find(kNssPrompt), std::string::npos) << describe(keys);
}

TEST_F(NssTest, CmsutilSignsAndDecryptsWithRsaAndEcKeys) {
    start_agent({alice_token(false)});
    agent_.unlock();
    make_database();
    sign_and_verify("rsa-sign");
    sign_and_verify("ec-sign");
    encrypt_and_decrypt("rsa-decrypt");
    // Not ec-derive: Debian 12's NSS 3.87 cannot parse a key-agreement recipient (cmsutil -D
    // fails with SEC_ERROR_BAD_DER before it reaches the token). ECDH through the module is
    // checked by the conformance suite and by OpenSSL (tests/forwarding/tools_test.cpp).
}

TEST_F(NssTest, LockedAgentUnlocksThroughItsPinentry) {
    TestPinentry pinentry;
    pinentry.answer({std::string("pin ") + SoftHsm::kUserPin});
    start_agent({alice_token(false)}, {.pinentry = TestPinentry::program()});
    make_database();
    sign_and_verify("rsa-sign");
    EXPECT_EQ(pinentry.prompts(), 1);
    // Unlocked now, for every application: no second prompt.
    encrypt_and_decrypt("rsa-decrypt");
    EXPECT_EQ(pinentry.prompts(), 1);
}

TEST_F(NssTest, LockedAgentWithTheUnlockCancelledSignsNothing) {
    TestPinentry pinentry;
    pinentry.answer({"cancel"});
    start_agent({alice_token(false)}, {.pinentry = TestPinentry::program()});
    make_database();
    const std::string content = write("content.txt", "never signed\n");
    auto s = nss({"cmsutil", "-S", "-N", "alice:rsa-sign", "-Y", "NONE", "-i", content, "-o",
                  (agent_.dir() / "no.p7s").string(), "-d", db_});
    EXPECT_NE(s.exit_code, 0) << describe(s);
    EXPECT_FALSE(s.timed_out);
    EXPECT_GE(pinentry.prompts(), 1);
}

}  // namespace
}  // namespace attache::testing
