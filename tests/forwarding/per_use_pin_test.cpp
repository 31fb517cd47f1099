// PIN-per-use keys (CKA_ALWAYS_AUTHENTICATE) through attache-pkcs11.so, on SoftHSM2 (which
// enforces the attribute: C_Sign fails without C_Login(CKU_CONTEXT_SPECIFIC) after C_SignInit).
// The module reports the attribute as the token does; an application's context login gives the
// PIN for that one operation, which travels with its request to the agent (never cached); without
// one the agent's own pinentry answers. A wrong PIN fails that operation only.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <filesystem>
#include <fstream>

#include "tests/forwarding/forwarding_fixture.h"

namespace attache::testing {
namespace {

// The scripted pinentry of tests/workstation (its answers file, its prompt counter).
class ScriptedPinentry {
  public:
    ScriptedPinentry() { setenv("ATTACHE_TEST_PINENTRY_DIR", dir_.path().c_str(), 1); }
    ~ScriptedPinentry() { unsetenv("ATTACHE_TEST_PINENTRY_DIR"); }
    static std::string program() { return ATTACHE_TEST_PINENTRY_PATH; }
    void answer(const std::string& line) {
        std::ofstream(dir_.path() / "answers", std::ios::app) << line << "\n";
    }
    int prompts() const {
        std::ifstream in(dir_.path() / "prompts");
        int n = 0;
        in >> n;
        return n;
    }

  private:
    TempDir dir_{"attache-pinentry"};
};

class PerUsePinTest : public ForwardingTest {
  protected:
    void SetUp() override {
        TokenSpec t;
        t.label = "alice";
        t.keys = {{p11::KeyAlgorithm::ec_p256, "per-use", {.sign = true}, true},
                  {p11::KeyAlgorithm::rsa2048, "per-use-decrypt", {.decrypt = true}, true},
                  {p11::KeyAlgorithm::ec_p256, "ordinary", {.sign = true}}};
        AgentOptions o;
        o.pinentry = ScriptedPinentry::program();
        start_agent({t}, o);
        agent_.unlock();
        initialize();
        s_ = open_logged_in_session();
    }

    CK_RV context_login(const std::string& pin) {
        return p11().C_Login(s_, CKU_CONTEXT_SPECIFIC,
                             reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())),
                             pin.size());
    }
    // C_SignInit (CKM_ECDSA), the context login when `pin` is given, C_Sign: the C_Sign result.
    CK_RV sign_per_use(const std::string& label, const char* pin, Bytes& signature) {
        CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
        check_rv(p11().C_SignInit(s_, &m, find(s_, CKO_PRIVATE_KEY, label)), "C_SignInit");
        if (pin != nullptr)
            check_rv(context_login(pin), "C_Login(CKU_CONTEXT_SPECIFIC)");
        Bytes digest(32, 0x5c);
        signature.assign(64, 0);
        CK_ULONG len = signature.size();
        const CK_RV rv = p11().C_Sign(s_, digest.data(), digest.size(), signature.data(), &len);
        signature.resize(rv == CKR_OK ? len : 0);
        return rv;
    }
    bool verifies(const std::string& label, const Bytes& raw_signature) {
        CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
        check_rv(p11().C_VerifyInit(s_, &m, find(s_, CKO_PUBLIC_KEY, label)), "C_VerifyInit");
        Bytes digest(32, 0x5c);
        return p11().C_Verify(s_, digest.data(), digest.size(),
                              const_cast<uint8_t*>(raw_signature.data()),
                              raw_signature.size()) == CKR_OK;
    }
    bool token_unlocked() {
        auto c = agent_.client();
        auto r = c.call(protocol::StatusRequest{});
        return r && std::get<protocol::StatusReply>(*r).tokens.at(0).unlocked;
    }

    ScriptedPinentry pinentry_;
    CK_SESSION_HANDLE s_ = CK_INVALID_HANDLE;
};

TEST_F(PerUsePinTest, AttributeIsTheTokens) {
    EXPECT_EQ(attribute(s_, find(s_, CKO_PRIVATE_KEY, "per-use"), CKA_ALWAYS_AUTHENTICATE),
              Bytes{CK_TRUE});
    EXPECT_EQ(attribute(s_, find(s_, CKO_PRIVATE_KEY, "per-use-decrypt"), CKA_ALWAYS_AUTHENTICATE),
              Bytes{CK_TRUE});
    EXPECT_EQ(attribute(s_, find(s_, CKO_PRIVATE_KEY, "ordinary"), CKA_ALWAYS_AUTHENTICATE),
              Bytes{CK_FALSE});
}

TEST_F(PerUsePinTest, ContextLoginSignsWithoutThePrompt) {
    for (int i = 0; i < 2; ++i) {
        Bytes sig;
        ASSERT_EQ(sign_per_use("per-use", "123456", sig), CKR_OK) << agent_.log();
        EXPECT_TRUE(verifies("per-use", sig));
    }
    EXPECT_EQ(pinentry_.prompts(), 0) << "the application's PIN answered both";
    EXPECT_TRUE(token_unlocked());
}

TEST_F(PerUsePinTest, ContextLoginFollowsTheStandardsStateRules) {
    // No operation: nothing to log in for (PKCS#11 2.40, C_Login).
    EXPECT_EQ(context_login("123456"), CKR_OPERATION_NOT_INITIALIZED);
    // An operation whose key needs no PIN per use (SoftHSM2 answers the same).
    CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
    check_rv(p11().C_SignInit(s_, &m, find(s_, CKO_PRIVATE_KEY, "ordinary")), "C_SignInit");
    EXPECT_EQ(context_login("123456"), CKR_OPERATION_NOT_INITIALIZED);
    check_rv(p11().C_SignInit(s_, nullptr, CK_INVALID_HANDLE), "ending the operation");
    // A verification is no operation of the private key.
    check_rv(p11().C_VerifyInit(s_, &m, find(s_, CKO_PUBLIC_KEY, "per-use")), "C_VerifyInit");
    EXPECT_EQ(context_login("123456"), CKR_OPERATION_NOT_INITIALIZED);
    check_rv(p11().C_VerifyInit(s_, nullptr, CK_INVALID_HANDLE), "ending the operation");
    // The PIN served one operation: the next needs its own (here the agent's prompt).
    Bytes sig;
    ASSERT_EQ(sign_per_use("per-use", "123456", sig), CKR_OK);
    pinentry_.answer("pin 123456");
    ASSERT_EQ(sign_per_use("per-use", nullptr, sig), CKR_OK);
    EXPECT_EQ(pinentry_.prompts(), 1) << "never cached";
    EXPECT_EQ(context_login("123456"), CKR_OPERATION_NOT_INITIALIZED);
}

TEST_F(PerUsePinTest, WithoutContextLoginTheAgentAsks) {
    pinentry_.answer("pin 123456");
    Bytes sig;
    ASSERT_EQ(sign_per_use("per-use", nullptr, sig), CKR_OK) << agent_.log();
    EXPECT_TRUE(verifies("per-use", sig));
    EXPECT_EQ(pinentry_.prompts(), 1);
    // Cancelled in the dialog: that operation fails, nothing else.
    pinentry_.answer("cancel");
    EXPECT_EQ(sign_per_use("per-use", nullptr, sig), CKR_FUNCTION_CANCELED);
    EXPECT_TRUE(token_unlocked());
}

TEST_F(PerUsePinTest, WrongPinFailsThatOperationAndKeepsTheTokenUnlocked) {
    Bytes sig;
    EXPECT_EQ(sign_per_use("per-use", "000000", sig), CKR_PIN_INCORRECT) << agent_.log();
    EXPECT_TRUE(token_unlocked()) << "an application's wrong PIN logs no one out";
    EXPECT_EQ(pinentry_.prompts(), 0) << "the agent did not ask instead";
    // The session stays a user session, the key keeps its handle, the right PIN works.
    CK_SESSION_INFO info{};
    check_rv(p11().C_GetSessionInfo(s_, &info), "C_GetSessionInfo");
    EXPECT_TRUE(info.state == CKS_RO_USER_FUNCTIONS || info.state == CKS_RW_USER_FUNCTIONS);
    ASSERT_EQ(sign_per_use("per-use", "123456", sig), CKR_OK) << agent_.log();
    EXPECT_TRUE(verifies("per-use", sig));
    ASSERT_EQ(sign_per_use("ordinary", nullptr, sig), CKR_OK);
    const std::string log = agent_.log();
    EXPECT_NE(log.find("result=pin-incorrect"), std::string::npos) << log;
}

TEST_F(PerUsePinTest, DecryptionTakesTheContextPinToo) {
    const Bytes plain = to_bytes("per-use secret");
    PkeyPtr pub = public_key("per-use-decrypt");
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new(pub.get(), nullptr), EVP_PKEY_CTX_free);
    ASSERT_EQ(EVP_PKEY_encrypt_init(ctx.get()), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING), 1);
    size_t len = 0;
    ASSERT_EQ(EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plain.data(), plain.size()), 1);
    Bytes cipher(len);
    ASSERT_EQ(EVP_PKEY_encrypt(ctx.get(), cipher.data(), &len, plain.data(), plain.size()), 1);
    cipher.resize(len);

    CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
    CK_MECHANISM m{CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
    check_rv(p11().C_DecryptInit(s_, &m, find(s_, CKO_PRIVATE_KEY, "per-use-decrypt")),
             "C_DecryptInit");
    check_rv(context_login("123456"), "C_Login(CKU_CONTEXT_SPECIFIC)");
    Bytes out(256);
    CK_ULONG out_len = out.size();
    ASSERT_EQ(p11().C_Decrypt(s_, cipher.data(), cipher.size(), out.data(), &out_len), CKR_OK)
        << agent_.log();
    out.resize(out_len);
    EXPECT_EQ(out, plain);
    EXPECT_EQ(pinentry_.prompts(), 0);
}

// pkcs11-tool logs in for the operation itself when a key has CKA_ALWAYS_AUTHENTICATE.
TEST_F(PerUsePinTest, Pkcs11ToolSignsWithItsContextLoginAndOpensslVerifies) {
    const std::string data = write("data", "to be signed once");
    const std::string sig = (agent_.dir() / "data.sig").string();
    auto r =
        tool({"pkcs11-tool", "--module", forwarding_module_path(), "--sign", "-m", "ECDSA-SHA256",
              "--signature-format", "openssl", "--id", hex(agent_.key("per-use").cka_id), "--login",
              "--pin", "123456", "--input-file", data, "--output-file", sig});
    ASSERT_EQ(r.exit_code, 0) << describe(r) << agent_.log();
    EXPECT_EQ(pinentry_.prompts(), 0);
    const std::string pub = public_key_pem("per-use");
    auto v = run_command({"openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, data});
    EXPECT_EQ(v.exit_code, 0) << describe(v);
    EXPECT_NE(v.out.find("Verified OK"), std::string::npos) << describe(v);
}

}  // namespace
}  // namespace attache::testing
