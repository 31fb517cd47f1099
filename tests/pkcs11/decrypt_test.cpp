// RSA decryption on the token of ciphertexts the `openssl` command made (OAEP, PKCS#1 v1.5),
// and the errors around it.

#include <gtest/gtest.h>

#include <string>

#include "pkcs11/keygen.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/names.h"
#include "pkcs11/operations.h"
#include "pkcs11/public_key.h"
#include "tests/pkcs11/fixture.h"
#include "tests/pkcs11/openssl_check.h"

namespace attache::p11 {
namespace {

using test::kDecryptOnly;
using test::key_spec;
using test::OpenSslTool;
using test::TokenTest;

const Bytes kPlaintext = to_bytes("a 32-byte session key, or so....");

class DecryptTest : public TokenTest {
  protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(TokenTest::SetUp());
        auto keys = generate_key_pair(session(),
                                      key_spec(KeyAlgorithm::rsa2048, kDecryptOnly, "rsa-decrypt"));
        ASSERT_TRUE(keys) << keys.error().message();
        keys_ = *keys;
        auto pkey = public_key_of(keys_.public_key);
        ASSERT_TRUE(pkey) << pkey.error().message();
        auto pem = spki_pem(pkey->get());
        ASSERT_TRUE(pem) << pem.error().message();
        tool_.write("pub.pem", *pem);
        tool_.write("plain.bin", kPlaintext);
        name_ = uri_of(CKO_PRIVATE_KEY, keys_.id, "rsa-decrypt");
    }

    // `openssl pkeyutl -encrypt` of kPlaintext with the token's public key.
    Bytes encrypt(const std::vector<std::string>& pkeyopts) {
        std::vector<std::string> args{"pkeyutl",
                                      "-encrypt",
                                      "-pubin",
                                      "-inkey",
                                      tool_.path("pub.pem"),
                                      "-in",
                                      tool_.path("plain.bin"),
                                      "-out",
                                      tool_.path("cipher.bin")};
        for (const auto& opt : pkeyopts) {
            args.push_back("-pkeyopt");
            args.push_back(opt);
        }
        auto r = tool_.run(args);
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        return r.exit_code == 0 ? tool_.read("cipher.bin") : Bytes{};
    }

    KeyPairHandles keys_;
    std::string name_;
    OpenSslTool tool_;
};

TEST_F(DecryptTest, OaepSha1) {
    const Bytes cipher = encrypt({"rsa_padding_mode:oaep", "rsa_oaep_md:sha1", "rsa_mgf1_md:sha1"});
    ASSERT_EQ(cipher.size(), 256u);
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes plain,
        decrypt(session(), keys_.private_key, Mechanism::rsa_oaep(Hash::sha1), cipher, name_));
    EXPECT_EQ(plain, kPlaintext);

    // Offering the buffer at once (the key size as the hint) gives the same.
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes hinted,
        decrypt(session(), keys_.private_key, Mechanism::rsa_oaep(Hash::sha1), cipher, name_, 256));
    EXPECT_EQ(hinted, kPlaintext);
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes small_hint,
        decrypt(session(), keys_.private_key, Mechanism::rsa_oaep(Hash::sha1), cipher, name_, 4));
    EXPECT_EQ(small_hint, kPlaintext);
}

TEST_F(DecryptTest, Pkcs1v15) {
    const Bytes cipher = encrypt({"rsa_padding_mode:pkcs1"});
    ASSERT_EQ(cipher.size(), 256u);
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes plain, decrypt(session(), keys_.private_key, Mechanism(CKM_RSA_PKCS), cipher, name_));
    EXPECT_EQ(plain, kPlaintext);
}

// SoftHSM2 2.6.1 implements OAEP with SHA-1 only; the test runs where the token can do more.
TEST_F(DecryptTest, OaepSha256) {
    const Bytes cipher =
        encrypt({"rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256"});
    ASSERT_EQ(cipher.size(), 256u);
    auto plain =
        decrypt(session(), keys_.private_key, Mechanism::rsa_oaep(Hash::sha256), cipher, name_);
    if (!plain &&
        (plain.error().is(CKR_ARGUMENTS_BAD) || plain.error().is(CKR_MECHANISM_PARAM_INVALID))) {
        GTEST_SKIP() << "the token does not support RSA-OAEP with SHA-256 (SoftHSM2 2.6.1 "
                        "implements OAEP with SHA-1 only): "
                     << plain.error().message();
    }
    ASSERT_TRUE(plain) << plain.error().message();
    EXPECT_EQ(*plain, kPlaintext);
}

TEST_F(DecryptTest, WrongPaddingFailsAndTheSessionStaysUsable) {
    const Bytes oaep = encrypt({"rsa_padding_mode:oaep", "rsa_oaep_md:sha1", "rsa_mgf1_md:sha1"});
    auto wrong = decrypt(session(), keys_.private_key, Mechanism(CKM_RSA_PKCS), oaep, name_);
    ASSERT_FALSE(wrong);
    ASSERT_TRUE(wrong.error().rv().has_value()) << wrong.error().message();
    EXPECT_EQ(wrong.error().message(), "C_Decrypt(" + name_ + "): " + rv_name(*wrong.error().rv()));

    auto garbage = decrypt(session(), keys_.private_key, Mechanism::rsa_oaep(Hash::sha1),
                           Bytes(256, 0x5a), name_);
    EXPECT_FALSE(garbage);

    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes plain,
        decrypt(session(), keys_.private_key, Mechanism::rsa_oaep(Hash::sha1), oaep, name_));
    EXPECT_EQ(plain, kPlaintext);
}

// Sign with a decrypt-only key: the token refuses, and the message says so by name.
TEST_F(DecryptTest, DecryptOnlyKeyCannotSign) {
    const Bytes info = digest_info(Hash::sha256, digest(Hash::sha256, kPlaintext));
    auto r = sign(session(), keys_.private_key, Mechanism(CKM_RSA_PKCS), info, name_);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(CKR_KEY_FUNCTION_NOT_PERMITTED)) << r.error().message();
    EXPECT_EQ(r.error().message(),
              "C_SignInit[CKM_RSA_PKCS](" + name_ + "): CKR_KEY_FUNCTION_NOT_PERMITTED");
}

TEST_F(DecryptTest, PublicKeyCannotDecrypt) {
    const Bytes cipher = encrypt({"rsa_padding_mode:pkcs1"});
    auto r = decrypt(session(), keys_.public_key, Mechanism(CKM_RSA_PKCS), cipher, "public");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("C_DecryptInit[CKM_RSA_PKCS](public): CKR_"),
              std::string::npos)
        << r.error().message();
}

}  // namespace
}  // namespace attache::p11
