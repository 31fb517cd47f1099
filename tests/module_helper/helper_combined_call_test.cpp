// A signature or a decryption through a helper is one round trip (SignInitAndSign,
// DecryptInitAndDecrypt) when nothing runs between the Init call and the operation, with the
// results, errors and size-query semantics of the two PKCS#11 calls. A key that needs a context
// login between them still takes the separate calls. The helper's traffic is observed through
// Module::helper_call_counts().

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "pkcs11/keygen.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/module_helper/combined_calls.h"
#include "pkcs11/operations.h"
#include "tests/module_helper/helper_fixture.h"

namespace attache::p11::test {
namespace {

using attache::testing::SoftHsm;
using module_helper::CallId;
using module_helper::CallStage;
using Counts = std::map<std::string, std::uint64_t>;

// The calls the module's helper was sent while `run` ran, by name.
Counts calls_during(const Module& module, const std::function<void()>& run) {
    const Counts before = module.helper_call_counts();
    run();
    Counts sent;
    for (const auto& [name, n] : module.helper_call_counts()) {
        const auto earlier = before.find(name);
        const std::uint64_t delta = n - (earlier == before.end() ? 0 : earlier->second);
        if (delta > 0)
            sent.emplace(name, delta);
    }
    return sent;
}

class HelperCombinedCallTest : public HelperTokenTest {
  protected:
    KeyPairHandles ec_key(bool always_authenticate = false) {
        KeyPairSpec spec = key_spec(KeyAlgorithm::ec_p256, kSignOnly, "ec");
        spec.always_authenticate = always_authenticate;
        auto keys = generate_key_pair(session(), spec);
        EXPECT_TRUE(keys) << keys.error().message();
        return keys ? *keys : KeyPairHandles{};
    }
    const Bytes digest_ = digest(Hash::sha256, to_bytes("signed through the helper at once"));
};

TEST_F(HelperCombinedCallTest, CallIdsAreKnownAndNamed) {
    for (CallId id : {CallId::SignInitAndSign, CallId::DecryptInitAndDecrypt}) {
        EXPECT_TRUE(module_helper::known_call(static_cast<std::uint16_t>(id)));
        EXPECT_NE(module_helper::call_name(id), "unknown call");
    }
    EXPECT_EQ(module_helper::call_name(CallId::SignInitAndSign), "C_SignInit+C_Sign");
    EXPECT_FALSE(module_helper::known_call(static_cast<std::uint16_t>(CallId::last) + 1));
}

TEST_F(HelperCombinedCallTest, SignatureIsOneRoundTrip) {
    const KeyPairHandles keys = ec_key();
    std::optional<Result<Bytes>> signature;
    const Counts sent = calls_during(module(), [&] {
        signature = sign(session(), keys.private_key, Mechanism(CKM_ECDSA), digest_, "ec", 64);
    });
    ASSERT_TRUE(*signature) << signature->error().message();
    EXPECT_EQ(sent, (Counts{{"C_SignInit+C_Sign", 1}}));
    ATTACHE_EXPECT_OK(
        verify(session(), keys.public_key, Mechanism(CKM_ECDSA), digest_, **signature, "ec"));
}

TEST_F(HelperCombinedCallTest, DecryptionIsOneRoundTrip) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        auto keys,
        generate_key_pair(session(), key_spec(KeyAlgorithm::rsa2048, kDecryptOnly, "dec")));
    CK_FUNCTION_LIST* fn = session().fn();
    Mechanism oaep = Mechanism::rsa_oaep(Hash::sha1);
    ASSERT_EQ(fn->C_EncryptInit(session().handle(), oaep.get(), keys.public_key), CKR_OK);
    Bytes plain = to_bytes("a secret for one round trip");
    Bytes cipher(256);
    CK_ULONG cipher_len = cipher.size();
    ASSERT_EQ(
        fn->C_Encrypt(session().handle(), plain.data(), plain.size(), cipher.data(), &cipher_len),
        CKR_OK);
    cipher.resize(cipher_len);

    std::optional<Result<Bytes>> decrypted;
    const Counts sent = calls_during(module(), [&] {
        decrypted = decrypt(session(), keys.private_key, Mechanism::rsa_oaep(Hash::sha1), cipher,
                            "dec", 256);
    });
    ASSERT_TRUE(*decrypted) << decrypted->error().message();
    EXPECT_EQ(**decrypted, plain);
    EXPECT_EQ(sent, (Counts{{"C_DecryptInit+C_Decrypt", 1}}));
}

TEST_F(HelperCombinedCallTest, WrongKeyReportsTheInitCall) {
    std::optional<Result<Bytes>> signature;
    const Counts sent = calls_during(module(), [&] {
        signature = sign(session(), 0x7fff0001, Mechanism(CKM_ECDSA), digest_, "no-such-key", 64);
    });
    ASSERT_FALSE(*signature);
    const std::string message = signature->error().message();
    EXPECT_NE(message.find("C_SignInit[CKM_ECDSA]"), std::string::npos) << message;
    EXPECT_EQ(message.find("C_Sign("), std::string::npos) << message;
    // The rv is the one the plain C_SignInit answers (SoftHSM2: CKR_OBJECT_HANDLE_INVALID).
    CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
    const CK_RV plain = session().fn()->C_SignInit(session().handle(), &ecdsa, 0x7fff0001);
    EXPECT_NE(plain, CKR_OK);
    EXPECT_EQ(signature->error().rv(), plain) << message;
    EXPECT_EQ(sent, (Counts{{"C_SignInit+C_Sign", 1}})) << "no C_SignInit(NULL) to end nothing";

    std::optional<Result<Bytes>> decrypted;
    calls_during(module(), [&] {
        decrypted = decrypt(session(), 0x7fff0001, Mechanism::rsa_oaep(Hash::sha1), digest_,
                            "no-such-key", 256);
    });
    ASSERT_FALSE(*decrypted);
    EXPECT_NE(decrypted->error().message().find("C_DecryptInit[CKM_RSA_PKCS_OAEP]"),
              std::string::npos)
        << decrypted->error().message();

    // No operation was left active: the next signature works.
    const KeyPairHandles keys = ec_key();
    ATTACHE_EXPECT_OK(sign(session(), keys.private_key, Mechanism(CKM_ECDSA), digest_, "ec", 64));
}

TEST_F(HelperCombinedCallTest, TooSmallBufferLeavesTheOperationForAPlainSign) {
    const KeyPairHandles keys = ec_key();
    const module_helper::CombinedCalls* combined = session().combined_calls();
    ASSERT_NE(combined, nullptr);
    CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
    Bytes in = digest_;
    CK_BYTE small[8];
    CK_ULONG length = sizeof small;
    CallStage stage = CallStage::init;
    EXPECT_EQ(combined->sign_init_and_sign(session().handle(), &ecdsa, keys.private_key, in.data(),
                                           in.size(), small, &length, &stage),
              CKR_BUFFER_TOO_SMALL);
    EXPECT_EQ(stage, CallStage::operation);
    EXPECT_EQ(length, 64u);
    Bytes signature(length);
    ASSERT_EQ(
        session().fn()->C_Sign(session().handle(), in.data(), in.size(), signature.data(), &length),
        CKR_OK);
    ATTACHE_EXPECT_OK(
        verify(session(), keys.public_key, Mechanism(CKM_ECDSA), digest_, signature, "ec"));

    // A NULL output asks the length; the operation stays active too.
    length = 0;
    EXPECT_EQ(combined->sign_init_and_sign(session().handle(), &ecdsa, keys.private_key, in.data(),
                                           in.size(), nullptr, &length, &stage),
              CKR_OK);
    EXPECT_EQ(stage, CallStage::operation);
    EXPECT_EQ(length, 64u);
    ASSERT_EQ(
        session().fn()->C_Sign(session().handle(), in.data(), in.size(), signature.data(), &length),
        CKR_OK);

    // p11::sign with a short hint: the combined call, then C_Sign with the size it answered.
    std::optional<Result<Bytes>> retried;
    const Counts sent = calls_during(module(), [&] {
        retried = sign(session(), keys.private_key, Mechanism(CKM_ECDSA), digest_, "ec", 8);
    });
    ASSERT_TRUE(*retried) << retried->error().message();
    EXPECT_EQ((*retried)->size(), 64u);
    EXPECT_EQ(sent, (Counts{{"C_Sign", 1}, {"C_SignInit+C_Sign", 1}}));
}

TEST_F(HelperCombinedCallTest, ContextLoginKeyTakesTheSeparateCalls) {
    const KeyPairHandles keys = ec_key(/*always_authenticate=*/true);
    int logins = 0;
    const ContextLogin login = [&]() -> Status {
        ++logins;
        Secret pin = secret(SoftHsm::kUserPin);
        return session().login(CKU_CONTEXT_SPECIFIC, &pin);
    };
    std::optional<Result<Bytes>> signature;
    const Counts sent = calls_during(module(), [&] {
        signature =
            sign(session(), keys.private_key, Mechanism(CKM_ECDSA), digest_, "per-use", 64, login);
    });
    ASSERT_TRUE(*signature) << signature->error().message();
    EXPECT_EQ(logins, 1);
    EXPECT_EQ(sent, (Counts{{"C_Login", 1}, {"C_Sign", 1}, {"C_SignInit", 1}}));
    ATTACHE_EXPECT_OK(
        verify(session(), keys.public_key, Mechanism(CKM_ECDSA), digest_, **signature, "per-use"));

    // SoftHSM2 enforces the attribute: without the context login C_Sign is refused.
    auto refused = sign(session(), keys.private_key, Mechanism(CKM_ECDSA), digest_, "per-use", 64);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message().find("C_Sign(per-use)"), std::string::npos)
        << refused.error().message();
}

TEST_F(HelperCombinedCallTest, InProcessModulesHaveNoCombinedCalls) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(Module local, Module::load(SoftHsm::module_path()));
    ATTACHE_ASSERT_OK_AND_ASSIGN(Session s, local.open_session(slot_));
    EXPECT_EQ(s.combined_calls(), nullptr);
    EXPECT_TRUE(local.helper_call_counts().empty());
    EXPECT_NE(session().combined_calls(), nullptr);
}

}  // namespace
}  // namespace attache::p11::test
