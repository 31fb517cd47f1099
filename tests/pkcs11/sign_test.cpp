// Signatures made on the token (RSA PKCS#1 v1.5, RSA-PSS, ECDSA, EdDSA), each verified by
// OpenSSL: the `openssl` command for at least one case per algorithm, the C API otherwise.

#include <gtest/gtest.h>
#include <openssl/evp.h>

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

using test::kDeriveOnly;
using test::key_spec;
using test::kSignOnly;
using test::OpenSslTool;
using test::TokenTest;

const Bytes kMessage = to_bytes("The quick brown fox signs over the lazy dog.\n");

class SignTest : public TokenTest {
  protected:
    // Generates a key pair; its public key goes to pub.pem for the openssl command.
    void make_key(KeyAlgorithm algorithm, KeyUsage usage, const std::string& label) {
        auto keys = generate_key_pair(session(), key_spec(algorithm, usage, label));
        ASSERT_TRUE(keys) << keys.error().message();
        keys_ = *keys;
        auto pkey = public_key_of(keys_.public_key);
        ASSERT_TRUE(pkey) << pkey.error().message();
        pkey_ = std::move(*pkey);
        auto pem = spki_pem(pkey_.get());
        ASSERT_TRUE(pem) << pem.error().message();
        tool_.write("pub.pem", *pem);
        name_ = uri_of(CKO_PRIVATE_KEY, keys_.id, label);
    }

    Result<Bytes> sign_with(Mechanism mechanism, const Bytes& data) {
        return sign(session(), keys_.private_key, std::move(mechanism), data, name_);
    }

    // `openssl dgst -<hash> -verify pub.pem -signature sig.bin [sigopts] data.bin`
    attache::testing::CommandResult dgst_verify(const std::string& hash, const Bytes& data,
                                                const Bytes& signature,
                                                const std::vector<std::string>& sigopts = {}) {
        tool_.write("data.bin", data);
        tool_.write("sig.bin", signature);
        std::vector<std::string> args{"dgst",       "-" + hash,
                                      "-verify",    tool_.path("pub.pem"),
                                      "-signature", tool_.path("sig.bin")};
        for (const auto& opt : sigopts) {
            args.push_back("-sigopt");
            args.push_back(opt);
        }
        args.push_back(tool_.path("data.bin"));
        return tool_.run(args);
    }

    KeyPairHandles keys_;
    Pkey pkey_;
    std::string name_;
    OpenSslTool tool_;
};

Bytes tampered(Bytes b) {
    b[b.size() / 2] ^= 0x01;
    return b;
}

TEST_F(SignTest, RsaPkcs1) {
    ASSERT_NO_FATAL_FAILURE(make_key(KeyAlgorithm::rsa2048, kSignOnly, "rsa-sign"));
    EXPECT_EQ(key_bits(pkey_.get()), 2048u);

    // Raw CKM_RSA_PKCS over a DigestInfo, checked by the openssl command.
    const Bytes sha256 = digest(Hash::sha256, kMessage);
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes raw, sign_with(Mechanism(CKM_RSA_PKCS), digest_info(Hash::sha256, sha256)));
    EXPECT_EQ(raw.size(), 256u);
    auto ok = dgst_verify("sha256", kMessage, raw);
    EXPECT_EQ(ok.exit_code, 0) << describe(ok);
    EXPECT_NE(ok.out.find("Verified OK"), std::string::npos) << describe(ok);
    auto bad = dgst_verify("sha256", tampered(kMessage), raw);
    EXPECT_NE(bad.exit_code, 0) << describe(bad);
    auto bad_sig = dgst_verify("sha256", kMessage, tampered(raw));
    EXPECT_NE(bad_sig.exit_code, 0) << describe(bad_sig);

    // The hash-and-sign mechanisms, checked with the OpenSSL API (and SHA-512 by the command).
    struct Case {
        CK_MECHANISM_TYPE mechanism;
        const EVP_MD* md;
        Hash hash;
    };
    for (const Case& c : {Case{CKM_SHA256_RSA_PKCS, EVP_sha256(), Hash::sha256},
                          Case{CKM_SHA384_RSA_PKCS, EVP_sha384(), Hash::sha384},
                          Case{CKM_SHA512_RSA_PKCS, EVP_sha512(), Hash::sha512}}) {
        SCOPED_TRACE(hash_name(c.hash));
        ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes sig, sign_with(Mechanism(c.mechanism), kMessage));
        EXPECT_EQ(sig.size(), 256u);
        EXPECT_TRUE(test::evp_verify(pkey_.get(), c.md, kMessage, sig));
        EXPECT_FALSE(test::evp_verify(pkey_.get(), c.md, tampered(kMessage), sig));
        // PKCS#1 v1.5 is deterministic: the raw mechanism over the DigestInfo gives the same.
        ATTACHE_ASSERT_OK_AND_ASSIGN(
            Bytes via_raw,
            sign_with(Mechanism(CKM_RSA_PKCS), digest_info(c.hash, digest(c.hash, kMessage))));
        EXPECT_EQ(via_raw, sig);
    }
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes sha512_sig,
                                 sign_with(Mechanism(CKM_SHA512_RSA_PKCS), kMessage));
    auto cli = dgst_verify("sha512", kMessage, sha512_sig);
    EXPECT_EQ(cli.exit_code, 0) << describe(cli);

    // A DigestInfo for SHA-1 too (legacy clients ask for it).
    const Bytes sha1 = digest(Hash::sha1, kMessage);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes sha1_sig,
                                 sign_with(Mechanism(CKM_RSA_PKCS), digest_info(Hash::sha1, sha1)));
    EXPECT_TRUE(test::evp_verify_digest(pkey_.get(), EVP_sha1(), sha1, sha1_sig));

    // The token's own verify accepts the good signature and rejects a bad one.
    ATTACHE_EXPECT_OK(verify(session(), keys_.public_key, Mechanism(CKM_RSA_PKCS),
                             digest_info(Hash::sha256, sha256), raw, name_));
    auto rejected = verify(session(), keys_.public_key, Mechanism(CKM_RSA_PKCS),
                           digest_info(Hash::sha256, sha256), tampered(raw), name_);
    ASSERT_FALSE(rejected);
    EXPECT_TRUE(rejected.error().is(CKR_SIGNATURE_INVALID)) << rejected.error().message();

    // Input longer than the modulus allows: C_Sign fails, named with the key and the reason
    // (SoftHSM2 2.6.1 says CKR_GENERAL_ERROR where the standard wants CKR_DATA_LEN_RANGE).
    auto too_long = sign_with(Mechanism(CKM_RSA_PKCS), Bytes(250, 0x42));
    ASSERT_FALSE(too_long);
    ASSERT_TRUE(too_long.error().rv().has_value()) << too_long.error().message();
    const std::string rv = rv_name(*too_long.error().rv());
    EXPECT_TRUE(rv == "CKR_DATA_LEN_RANGE" || rv == "CKR_GENERAL_ERROR") << rv;
    EXPECT_EQ(too_long.error().message(), "C_Sign(" + name_ + "): " + rv);
    // The failed operation is over: the session signs again.
    ATTACHE_EXPECT_OK(sign_with(Mechanism(CKM_SHA256_RSA_PKCS), kMessage));
}

TEST_F(SignTest, RsaPss) {
    ASSERT_NO_FATAL_FAILURE(make_key(KeyAlgorithm::rsa2048, kSignOnly, "rsa-pss"));

    // Hash-and-sign PSS, checked by the openssl command.
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes sig,
        sign_with(Mechanism::rsa_pss(CKM_SHA256_RSA_PKCS_PSS, Hash::sha256, 32), kMessage));
    EXPECT_EQ(sig.size(), 256u);
    const std::vector<std::string> pss32 = {"rsa_padding_mode:pss", "rsa_pss_saltlen:32",
                                            "rsa_mgf1_md:sha256"};
    auto ok = dgst_verify("sha256", kMessage, sig, pss32);
    EXPECT_EQ(ok.exit_code, 0) << describe(ok);
    EXPECT_NE(ok.out.find("Verified OK"), std::string::npos) << describe(ok);
    auto bad = dgst_verify("sha256", tampered(kMessage), sig, pss32);
    EXPECT_NE(bad.exit_code, 0) << describe(bad);
    // A PKCS#1 v1.5 verifier must not accept it.
    auto not_pkcs1 = dgst_verify("sha256", kMessage, sig);
    EXPECT_NE(not_pkcs1.exit_code, 0) << describe(not_pkcs1);
    EXPECT_TRUE(test::evp_verify(pkey_.get(), EVP_sha256(), kMessage, sig, 32));
    EXPECT_FALSE(test::evp_verify(pkey_.get(), EVP_sha256(), kMessage, sig, 20));  // other salt

    // PSS is randomised: a second signature differs and verifies too.
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes sig2,
        sign_with(Mechanism::rsa_pss(CKM_SHA256_RSA_PKCS_PSS, Hash::sha256, 32), kMessage));
    EXPECT_NE(sig, sig2);
    EXPECT_TRUE(test::evp_verify(pkey_.get(), EVP_sha256(), kMessage, sig2, 32));

    // CKM_RSA_PKCS_PSS over a digest, with SHA-384 parameters.
    const Bytes sha384 = digest(Hash::sha384, kMessage);
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes on_digest, sign_with(Mechanism::rsa_pss(CKM_RSA_PKCS_PSS, Hash::sha384, 48), sha384));
    EXPECT_TRUE(test::evp_verify_digest(pkey_.get(), EVP_sha384(), sha384, on_digest, 48));
    EXPECT_TRUE(test::evp_verify(pkey_.get(), EVP_sha384(), kMessage, on_digest, 48));
    EXPECT_FALSE(
        test::evp_verify_digest(pkey_.get(), EVP_sha384(), tampered(sha384), on_digest, 48));

    // SHA-512 hash-and-sign PSS with a zero-length salt.
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes sha512,
        sign_with(Mechanism::rsa_pss(CKM_SHA512_RSA_PKCS_PSS, Hash::sha512, 0), kMessage));
    EXPECT_TRUE(test::evp_verify(pkey_.get(), EVP_sha512(), kMessage, sha512, 0));

    // The token checks the PSS parameters against the mechanism: a SHA-256 digest with SHA-384
    // parameters is refused.
    auto mismatch = sign_with(Mechanism::rsa_pss(CKM_RSA_PKCS_PSS, Hash::sha384, 48),
                              digest(Hash::sha256, kMessage));
    EXPECT_FALSE(mismatch);
}

TEST_F(SignTest, EcdsaP256) {
    ASSERT_NO_FATAL_FAILURE(make_key(KeyAlgorithm::ec_p256, kSignOnly, "ec256"));
    const Bytes sha256 = digest(Hash::sha256, kMessage);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes raw, sign_with(Mechanism(CKM_ECDSA), sha256));
    ASSERT_EQ(raw.size(), 64u);  // r || s
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes der, ecdsa_raw_to_der(raw));
    EXPECT_EQ(der[0], 0x30);

    auto ok = dgst_verify("sha256", kMessage, der);
    EXPECT_EQ(ok.exit_code, 0) << describe(ok);
    EXPECT_NE(ok.out.find("Verified OK"), std::string::npos) << describe(ok);
    auto bad = dgst_verify("sha256", tampered(kMessage), der);
    EXPECT_NE(bad.exit_code, 0) << describe(bad);
    EXPECT_TRUE(test::evp_verify_digest(pkey_.get(), EVP_sha256(), sha256, der));

    // Back to r || s: the same bytes.
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes back, ecdsa_der_to_raw(der, 32));
    EXPECT_EQ(back, raw);
}

TEST_F(SignTest, EcdsaP384) {
    ASSERT_NO_FATAL_FAILURE(make_key(KeyAlgorithm::ec_p384, kSignOnly, "ec384"));
    EXPECT_EQ(key_bits(pkey_.get()), 384u);
    const Bytes sha384 = digest(Hash::sha384, kMessage);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes raw, sign_with(Mechanism(CKM_ECDSA), sha384));
    ASSERT_EQ(raw.size(), 96u);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes der, ecdsa_raw_to_der(raw));
    EXPECT_TRUE(test::evp_verify_digest(pkey_.get(), EVP_sha384(), sha384, der));
    EXPECT_TRUE(test::evp_verify(pkey_.get(), EVP_sha384(), kMessage, der));
    EXPECT_FALSE(test::evp_verify_digest(pkey_.get(), EVP_sha384(), tampered(sha384), der));
    auto cli = dgst_verify("sha384", kMessage, der);
    EXPECT_EQ(cli.exit_code, 0) << describe(cli);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes back, ecdsa_der_to_raw(der, 48));
    EXPECT_EQ(back, raw);
}

TEST_F(SignTest, Ed25519) {
    ASSERT_NO_FATAL_FAILURE(make_key(KeyAlgorithm::ed25519, kSignOnly, "ed"));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes sig, sign_with(Mechanism(CKM_EDDSA), kMessage));
    ASSERT_EQ(sig.size(), 64u);

    tool_.write("data.bin", kMessage);
    tool_.write("sig.bin", sig);
    auto ok = tool_.run({"pkeyutl", "-verify", "-pubin", "-inkey", tool_.path("pub.pem"), "-rawin",
                         "-in", tool_.path("data.bin"), "-sigfile", tool_.path("sig.bin")});
    EXPECT_EQ(ok.exit_code, 0) << describe(ok);
    EXPECT_NE(ok.out.find("Signature Verified Successfully"), std::string::npos) << describe(ok);

    tool_.write("other.bin", tampered(kMessage));
    auto bad = tool_.run({"pkeyutl", "-verify", "-pubin", "-inkey", tool_.path("pub.pem"), "-rawin",
                          "-in", tool_.path("other.bin"), "-sigfile", tool_.path("sig.bin")});
    EXPECT_NE(bad.exit_code, 0) << describe(bad);

    EXPECT_TRUE(test::evp_verify(pkey_.get(), nullptr, kMessage, sig));
    EXPECT_FALSE(test::evp_verify(pkey_.get(), nullptr, kMessage, tampered(sig)));
    // Ed25519 is deterministic.
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes again, sign_with(Mechanism(CKM_EDDSA), kMessage));
    EXPECT_EQ(again, sig);
}

TEST_F(SignTest, VerifyOnTheToken) {
    ASSERT_NO_FATAL_FAILURE(make_key(KeyAlgorithm::ec_p256, kSignOnly, "verifier"));
    const Bytes sha256 = digest(Hash::sha256, kMessage);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes raw, sign_with(Mechanism(CKM_ECDSA), sha256));
    ATTACHE_EXPECT_OK(
        verify(session(), keys_.public_key, Mechanism(CKM_ECDSA), sha256, raw, name_));

    auto bad_sig =
        verify(session(), keys_.public_key, Mechanism(CKM_ECDSA), sha256, tampered(raw), name_);
    ASSERT_FALSE(bad_sig);
    EXPECT_TRUE(bad_sig.error().is(CKR_SIGNATURE_INVALID)) << bad_sig.error().message();
    EXPECT_EQ(bad_sig.error().message(), "C_Verify(" + name_ + "): CKR_SIGNATURE_INVALID");

    auto bad_data = verify(session(), keys_.public_key, Mechanism(CKM_ECDSA),
                           digest(Hash::sha256, tampered(kMessage)), raw, name_);
    ASSERT_FALSE(bad_data);
    EXPECT_TRUE(bad_data.error().is(CKR_SIGNATURE_INVALID)) << bad_data.error().message();

    // Ed25519 too.
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles ed,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ed25519, kSignOnly, "ed-verifier")));
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes ed_sig, sign(session(), ed.private_key, Mechanism(CKM_EDDSA), kMessage, "ed"));
    ATTACHE_EXPECT_OK(
        verify(session(), ed.public_key, Mechanism(CKM_EDDSA), kMessage, ed_sig, "ed"));
    auto ed_bad =
        verify(session(), ed.public_key, Mechanism(CKM_EDDSA), kMessage, tampered(ed_sig), "ed");
    ASSERT_FALSE(ed_bad);
    EXPECT_TRUE(ed_bad.error().is(CKR_SIGNATURE_INVALID)) << ed_bad.error().message();
}

// The size hint only saves a round trip: too small is retried, too large is shrunk.
TEST_F(SignTest, OutputHintIsOnlyAHint) {
    ASSERT_NO_FATAL_FAILURE(make_key(KeyAlgorithm::ec_p256, kSignOnly, "hinted"));
    const Bytes sha256 = digest(Hash::sha256, kMessage);
    for (size_t hint : {size_t{1}, size_t{63}, size_t{64}, size_t{4096}}) {
        SCOPED_TRACE(hint);
        auto raw = sign(session(), keys_.private_key, Mechanism(CKM_ECDSA), sha256, name_, hint);
        ASSERT_TRUE(raw) << raw.error().message();
        ASSERT_EQ(raw->size(), 64u);
        ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes der, ecdsa_raw_to_der(*raw));
        EXPECT_TRUE(test::evp_verify_digest(pkey_.get(), EVP_sha256(), sha256, der));
    }
}

TEST_F(SignTest, KeyWithoutSignUsageIsRefused) {
    ASSERT_NO_FATAL_FAILURE(make_key(KeyAlgorithm::ec_p256, kDeriveOnly, "derive-only"));
    auto r = sign_with(Mechanism(CKM_ECDSA), digest(Hash::sha256, kMessage));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(CKR_KEY_FUNCTION_NOT_PERMITTED)) << r.error().message();
    const std::string& m = r.error().message();
    EXPECT_EQ(m, "C_SignInit[CKM_ECDSA](" + name_ + "): CKR_KEY_FUNCTION_NOT_PERMITTED");
    EXPECT_NE(m.find("pkcs11:"), std::string::npos);

    // The session is still usable for a key that may sign.
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        KeyPairHandles signer,
        generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "signer")));
    ATTACHE_EXPECT_OK(sign(session(), signer.private_key, Mechanism(CKM_ECDSA),
                           digest(Hash::sha256, kMessage), "signer"));
}

TEST_F(SignTest, WrongMechanismOrHandleIsNamed) {
    ASSERT_NO_FATAL_FAILURE(make_key(KeyAlgorithm::ec_p256, kSignOnly, "ec"));
    // A mechanism the token does not have; unknown mechanisms are named in hex.
    auto unknown = sign_with(Mechanism(CKM_VENDOR_DEFINED | 0x4711), kMessage);
    ASSERT_FALSE(unknown);
    EXPECT_TRUE(unknown.error().is(CKR_MECHANISM_INVALID)) << unknown.error().message();
    EXPECT_EQ(unknown.error().message(),
              "C_SignInit[0x80004711](" + name_ + "): CKR_MECHANISM_INVALID");
    // A mechanism the key cannot do.
    auto decrypt_mechanism = sign_with(Mechanism(CKM_ECDH1_DERIVE), kMessage);
    ASSERT_FALSE(decrypt_mechanism);
    EXPECT_NE(decrypt_mechanism.error().message().find("C_SignInit[CKM_ECDH1_DERIVE](" + name_ +
                                                       "): CKR_"),
              std::string::npos)
        << decrypt_mechanism.error().message();

    auto no_key = sign(session(), 0xdead, Mechanism(CKM_ECDSA), kMessage, "pkcs11:object=gone");
    ASSERT_FALSE(no_key);
    EXPECT_TRUE(no_key.error().is(CKR_KEY_HANDLE_INVALID) ||
                no_key.error().is(CKR_OBJECT_HANDLE_INVALID))
        << no_key.error().message();
    EXPECT_NE(no_key.error().message().find("C_SignInit[CKM_ECDSA](pkcs11:object=gone): CKR_"),
              std::string::npos)
        << no_key.error().message();
}

TEST(EcdsaEncoding, RawAndDerConversions) {
    // r = 1, s = 0x80 (needs a leading zero in DER).
    Bytes raw(64, 0);
    raw[31] = 0x01;
    raw[63] = 0x80;
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes der, ecdsa_raw_to_der(raw));
    EXPECT_EQ(der, (Bytes{0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80}));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes back, ecdsa_der_to_raw(der, 32));
    EXPECT_EQ(back, raw);

    EXPECT_FALSE(ecdsa_raw_to_der(Bytes{}));
    EXPECT_FALSE(ecdsa_raw_to_der(Bytes(63, 1)));
    EXPECT_FALSE(ecdsa_raw_to_der(Bytes(134, 1)));
    EXPECT_FALSE(ecdsa_der_to_raw(Bytes{0x30, 0x00, 0x00}, 32));
    Bytes trailing = der;
    trailing.push_back(0);
    EXPECT_FALSE(ecdsa_der_to_raw(trailing, 32));
    // r does not fit a 1-byte field.
    Bytes big(64, 0xff);
    ATTACHE_ASSERT_OK_AND_ASSIGN(Bytes big_der, ecdsa_raw_to_der(big));
    EXPECT_FALSE(ecdsa_der_to_raw(big_der, 1));
}

}  // namespace
}  // namespace attache::p11
