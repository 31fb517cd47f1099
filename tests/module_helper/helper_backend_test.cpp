// Calls through a helper process answer as the module in-process does: signatures, decryption,
// key generation, PKCS#11's size queries, many threads at once.

#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "pkcs11/attribute_template.h"
#include "pkcs11/keygen.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/operations.h"
#include "tests/module_helper/helper_fixture.h"

namespace attache::p11::test {
namespace {

using attache::testing::SoftHsm;

// The same token loaded in this process, logged in.
struct InProcess {
    Module module;
    Session session;
};

std::optional<InProcess> open_in_process(CK_SLOT_ID slot) {
    auto module = Module::load(SoftHsm::module_path());
    if (!module)
        return std::nullopt;
    auto session = module->open_session(slot, /*read_write=*/true);
    if (!session)
        return std::nullopt;
    Secret pin = secret(SoftHsm::kUserPin);
    if (!session->login(CKU_USER, &pin))
        return std::nullopt;
    return InProcess{std::move(*module), std::move(*session)};
}

CK_OBJECT_HANDLE find_key(Session& session, CK_OBJECT_CLASS klass, const Bytes& id) {
    AttributeTemplate templ;
    templ.add_ulong(CKA_CLASS, klass);
    templ.add_bytes(CKA_ID, id);
    auto found = session.find(std::move(templ), 2);
    if (!found || found->size() != 1)
        return CK_INVALID_HANDLE;
    return found->front();
}

using HelperBackendTest = HelperTokenTest;

TEST_F(HelperBackendTest, RunsInItsOwnProcess) {
    EXPECT_GT(module().helper_pid(), 0);
    EXPECT_NE(module().helper_pid(), getpid());
    EXPECT_TRUE(module().alive());
    EXPECT_EQ(module().stop_reason(), "");
}

TEST_F(HelperBackendTest, RsaSignatureEqualsTheInProcessOne) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        auto keys, generate_key_pair(session(), key_spec(KeyAlgorithm::rsa2048, kSignOnly, "rsa")));
    const Bytes data = to_bytes("the same bytes on both backends");
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes through_helper,
        sign(session(), keys.private_key, Mechanism(CKM_SHA256_RSA_PKCS), data, "rsa"));

    auto local = open_in_process(slot_);
    ASSERT_TRUE(local);
    const CK_OBJECT_HANDLE key = find_key(local->session, CKO_PRIVATE_KEY, keys.id);
    ASSERT_NE(key, CK_INVALID_HANDLE) << "the key made through the helper is on the token";
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes in_process, sign(local->session, key, Mechanism(CKM_SHA256_RSA_PKCS), data, "rsa"));
    EXPECT_EQ(through_helper, in_process);  // PKCS#1 v1.5 is deterministic
    ATTACHE_EXPECT_OK(verify(local->session, find_key(local->session, CKO_PUBLIC_KEY, keys.id),
                             Mechanism(CKM_SHA256_RSA_PKCS), data, through_helper, "rsa"));
}

TEST_F(HelperBackendTest, DecryptsWhatTheInProcessModuleEncrypted) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        auto keys,
        generate_key_pair(session(), key_spec(KeyAlgorithm::rsa2048, kDecryptOnly, "dec")));
    auto local = open_in_process(slot_);
    ASSERT_TRUE(local);
    const CK_OBJECT_HANDLE pub = find_key(local->session, CKO_PUBLIC_KEY, keys.id);
    ASSERT_NE(pub, CK_INVALID_HANDLE);

    CK_FUNCTION_LIST* fn = local->session.fn();
    Mechanism oaep = Mechanism::rsa_oaep(Hash::sha1);
    ASSERT_EQ(fn->C_EncryptInit(local->session.handle(), oaep.get(), pub), CKR_OK);
    Bytes plain = to_bytes("a secret for the helper");
    Bytes cipher(256);
    CK_ULONG cipher_len = cipher.size();
    ASSERT_EQ(fn->C_Encrypt(local->session.handle(), plain.data(), plain.size(), cipher.data(),
                            &cipher_len),
              CKR_OK);
    cipher.resize(cipher_len);

    ATTACHE_ASSERT_OK_AND_ASSIGN(
        Bytes decrypted,
        decrypt(session(), keys.private_key, Mechanism::rsa_oaep(Hash::sha1), cipher, "dec"));
    EXPECT_EQ(decrypted, plain);
}

TEST_F(HelperBackendTest, SizeQueriesKeepPkcs11Semantics) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        auto keys, generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "ec")));
    CK_FUNCTION_LIST* fn = session().fn();
    const CK_SESSION_HANDLE s = session().handle();
    CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
    CK_BYTE digest[32] = {7};
    ASSERT_EQ(fn->C_SignInit(s, &ecdsa, keys.private_key), CKR_OK);

    CK_ULONG length = 0;
    ASSERT_EQ(fn->C_Sign(s, digest, sizeof digest, nullptr, &length), CKR_OK);
    EXPECT_EQ(length, 64u);  // r||s of P-256; the operation stays active
    CK_BYTE small[8];
    CK_ULONG small_len = sizeof small;
    EXPECT_EQ(fn->C_Sign(s, digest, sizeof digest, small, &small_len), CKR_BUFFER_TOO_SMALL);
    EXPECT_EQ(small_len, 64u);
    Bytes signature(length);
    ASSERT_EQ(fn->C_Sign(s, digest, sizeof digest, signature.data(), &length), CKR_OK);
    EXPECT_EQ(length, 64u);

    // C_GetAttributeValue: NULL pValue asks the length; a short buffer is refused.
    CK_ATTRIBUTE label{CKA_LABEL, nullptr, 0};
    ASSERT_EQ(fn->C_GetAttributeValue(s, keys.private_key, &label, 1), CKR_OK);
    EXPECT_EQ(label.ulValueLen, 2u);
    CK_BYTE one[1];
    label.pValue = one;
    label.ulValueLen = sizeof one;
    EXPECT_EQ(fn->C_GetAttributeValue(s, keys.private_key, &label, 1), CKR_BUFFER_TOO_SMALL);
    EXPECT_EQ(label.ulValueLen, CK_UNAVAILABLE_INFORMATION);

    // C_GetSlotList: count first, then the list.
    CK_ULONG count = 0;
    ASSERT_EQ(fn->C_GetSlotList(CK_TRUE, nullptr, &count), CKR_OK);
    ASSERT_GE(count, 1u);
    std::vector<CK_SLOT_ID> slots(count);
    ASSERT_EQ(fn->C_GetSlotList(CK_TRUE, slots.data(), &count), CKR_OK);
    EXPECT_NE(std::find(slots.begin(), slots.end(), slot_), slots.end());
}

TEST_F(HelperBackendTest, ManyThreadsSignAtOnce) {
    ATTACHE_ASSERT_OK_AND_ASSIGN(
        auto keys, generate_key_pair(session(), key_spec(KeyAlgorithm::ec_p256, kSignOnly, "ec")));
    constexpr int kThreads = 4;
    constexpr int kEach = 25;
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            auto own = module().open_session(slot_, false);
            if (!own)
                return;
            for (int i = 0; i < kEach; ++i) {
                const Bytes data =
                    to_bytes("thread " + std::to_string(t) + " call " + std::to_string(i));
                const Bytes hash = digest(Hash::sha256, data);
                auto sig = sign(*own, keys.private_key, Mechanism(CKM_ECDSA), hash, "ec");
                if (sig && verify(*own, keys.public_key, Mechanism(CKM_ECDSA), hash, *sig, "ec"))
                    ++good;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(good.load(), kThreads * kEach);
}

TEST_F(HelperBackendTest, RandomLargerThanOneFrameIsSplit) {
    // More than kMaxRandom (64 KiB) per call: the client asks in pieces.
    Bytes random(200000);
    ASSERT_EQ(session().fn()->C_GenerateRandom(session().handle(), random.data(), random.size()),
              CKR_OK);
    EXPECT_LT(std::count(random.begin(), random.end(), 0), 10000);
}

TEST_F(HelperBackendTest, NotifyCallbackIsRefused) {
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    auto notify = [](CK_SESSION_HANDLE, CK_NOTIFICATION, CK_VOID_PTR) -> CK_RV { return CKR_OK; };
    EXPECT_EQ(module().fn()->C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, notify, &s),
              CKR_ARGUMENTS_BAD);
}

}  // namespace
}  // namespace attache::p11::test
