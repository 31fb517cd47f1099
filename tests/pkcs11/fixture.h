#pragma once

// Shared pieces of the pkcs11/ tests: assertion macros for Result/Status, and a fixture that
// gives every test a fresh SoftHSM2 token, the module loaded and a logged-in read-write session.

#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>
#include <string_view>

#include "pkcs11/keygen.h"
#include "pkcs11/module.h"
#include "pkcs11/public_key.h"
#include "pkcs11/result.h"
#include "pkcs11/secret.h"
#include "pkcs11/session.h"
#include "pkcs11/token_info.h"
#include "tests/support/softhsm.h"

// Fails the test (fatally) unless the Result/Status holds a value; prints the error otherwise.
#define ATTACHE_ASSERT_OK(expr)                                              \
    do {                                                                     \
        const auto& attache_assert_ok_ = (expr);                             \
        ASSERT_TRUE(attache_assert_ok_.has_value())                          \
            << #expr << " failed: " << attache_assert_ok_.error().message(); \
    } while (0)

#define ATTACHE_EXPECT_OK(expr)                                              \
    do {                                                                     \
        const auto& attache_expect_ok_ = (expr);                             \
        EXPECT_TRUE(attache_expect_ok_.has_value())                          \
            << #expr << " failed: " << attache_expect_ok_.error().message(); \
    } while (0)

// ATTACHE_ASSERT_OK_AND_ASSIGN(auto keys, generate_key_pair(...));
#define ATTACHE_ASSERT_OK_AND_ASSIGN(decl, expr) \
    ATTACHE_ASSERT_OK_AND_ASSIGN_IMPL(ATTACHE_CONCAT(attache_assign_, __LINE__), decl, expr)
#define ATTACHE_ASSERT_OK_AND_ASSIGN_IMPL(tmp, decl, expr)                         \
    auto tmp = (expr);                                                             \
    ASSERT_TRUE(tmp.has_value()) << #expr << " failed: " << tmp.error().message(); \
    decl = std::move(tmp).value()

namespace attache::p11::test {

// A Secret holding `text` (PINs in tests are short; a failure here is a bug in Secret).
Secret secret(std::string_view text);

// The module backend the tests run on: in-process (Module::load), or a helper process
// (Module::start_helper) when ATTACHE_TEST_MODULE_BACKEND=helper (the pkcs11_helper_backend
// ctest entries).
bool helper_backend();
// attache-module-helper from this build tree, this process's environment, a 60 s call timeout.
HelperOptions test_helper_options();
// Loads `spec` on the backend above.
Result<Module> load_test_module(const std::string& spec);

// A read-write session on `slot`, logged in as the user with SoftHsm::kUserPin.
Result<Session> open_user_session(const Module& module, CK_SLOT_ID slot);

// A key-pair spec for session tests: token objects, labelled, default CKA_ID.
KeyPairSpec key_spec(KeyAlgorithm algorithm, KeyUsage usage, std::string label);

inline constexpr KeyUsage kSignOnly{.sign = true};
inline constexpr KeyUsage kDecryptOnly{.decrypt = true};
inline constexpr KeyUsage kDeriveOnly{.derive = true};

// A fresh SoftHSM2 token (label kTokenLabel, the user PIN set) in a private SoftHSM2
// configuration, the module loaded by path (on the backend above), and a read-write session logged
// in as the user. Members are destroyed session first, then module (C_Finalize), then the SoftHSM
// directory.
class TokenTest : public ::testing::Test {
  protected:
    static constexpr const char* kTokenLabel = "attache-test";

    void SetUp() override;
    void TearDown() override;
    // How SetUp loads the module: load_test_module() unless a fixture says otherwise.
    virtual Result<Module> load_module(const std::string& spec);

    Module& module() { return *module_; }
    Session& session() { return *session_; }

    // The public key of a public-key object, built from its attributes.
    Result<Pkey> public_key_of(CK_OBJECT_HANDLE public_key) const;
    // The canonical PKCS#11 URI of an object on this test's token.
    std::string uri_of(CK_OBJECT_CLASS klass, const Bytes& id, const std::string& label) const;

    attache::testing::SoftHsm hsm_;
    CK_SLOT_ID slot_ = 0;
    TokenInfo token_;
    std::optional<Module> module_;
    std::optional<Session> session_;
};

}  // namespace attache::p11::test
