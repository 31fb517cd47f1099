// Module: loading (by path, twice, failures, names resolved through p11-kit), slots, tokens and
// mechanisms.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "pkcs11/module.h"
#include "pkcs11/names.h"
#include "tests/pkcs11/fixture.h"
#include "tests/support/softhsm.h"
#include "tests/support/temp_dir.h"

namespace attache::p11 {
namespace {

using attache::testing::SoftHsm;
using test::TokenTest;

constexpr const char* kPkcs11Spy = "/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so";

bool contains(const std::vector<CK_SLOT_ID>& slots, CK_SLOT_ID slot) {
    return std::find(slots.begin(), slots.end(), slot) != slots.end();
}

size_t count_matches(const std::string& text, const std::regex& re) {
    return static_cast<size_t>(
        std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name))
            old_ = old;
        setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_)
            setenv(name_, old_->c_str(), 1);
        else
            unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST(ModuleLoad, LoadsByPath) {
    SoftHsm hsm;
    CK_SLOT_ID slot = hsm.add_token("alice");
    auto module = Module::load(SoftHsm::module_path());
    ASSERT_TRUE(module) << module.error().message();
    EXPECT_EQ(module->path(), SoftHsm::module_path());
    ASSERT_NE(module->fn(), nullptr);

    auto info = module->info();
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->cryptokiVersion.major, 2);
    EXPECT_EQ(trim_padded(info->manufacturerID, sizeof info->manufacturerID), "SoftHSM");

    auto token = module->token_info(slot);
    ASSERT_TRUE(token) << token.error().message();
    EXPECT_EQ(token->label, "alice");
}

// Two Modules for one library (even by different paths to the same file) share one Library:
// one C_Initialize, and one C_Finalize when the last of them goes.
TEST(ModuleLoad, SameModuleTwiceInitialisesOnce) {
    SoftHsm hsm;
    CK_SLOT_ID first = hsm.add_token("first");
    const std::string canonical = std::filesystem::canonical(SoftHsm::module_path()).string();
    {
        auto a = Module::load(SoftHsm::module_path());
        ASSERT_TRUE(a) << a.error().message();
        auto b = Module::load(canonical);
        ASSERT_TRUE(b) << b.error().message();
        EXPECT_EQ(a->fn(), b->fn());

        auto session_b = b->open_session(first);
        ASSERT_TRUE(session_b) << session_b.error().message();
        {
            auto session_a = a->open_session(first);
            ASSERT_TRUE(session_a) << session_a.error().message();
            ATTACHE_EXPECT_OK(session_a->info());
        }

        // Dropping one Module must not finalise the library under the other.
        std::optional<Module> only_a(std::move(*a));
        only_a.reset();
        auto token = b->token_info(first);
        ASSERT_TRUE(token) << token.error().message();
        EXPECT_EQ(token->label, "first");
        ATTACHE_EXPECT_OK(session_b->info());
        auto random = session_b->random(16);
        ATTACHE_EXPECT_OK(random);
    }
    // Both gone: the library was finalised, so a new load initialises it afresh and sees a token
    // added since (SoftHSM2 reads its token directory in C_Initialize).
    CK_SLOT_ID second = hsm.add_token("second");
    auto c = Module::load(SoftHsm::module_path());
    ASSERT_TRUE(c) << c.error().message();
    auto slots = c->slots(true);
    ASSERT_TRUE(slots) << slots.error().message();
    EXPECT_TRUE(contains(*slots, first));
    EXPECT_TRUE(contains(*slots, second));
    auto token = c->token_info(second);
    ASSERT_TRUE(token) << token.error().message();
    EXPECT_EQ(token->label, "second");
}

// The same, counted: OpenSC's pkcs11-spy logs every call it passes to SoftHSM2.
TEST(ModuleLoad, SameModuleTwiceCallsInitializeAndFinalizeOnce) {
    if (!std::filesystem::exists(kPkcs11Spy))
        GTEST_SKIP() << kPkcs11Spy << " (package opensc-pkcs11) is not installed";
    SoftHsm hsm;
    CK_SLOT_ID slot = hsm.add_token("spied");
    const auto log = hsm.dir() / "spy.log";
    ScopedEnv real("PKCS11SPY", SoftHsm::module_path());
    ScopedEnv output("PKCS11SPY_OUTPUT", log.string());
    {
        auto a = Module::load(kPkcs11Spy);
        ASSERT_TRUE(a) << a.error().message();
        auto b = Module::load(kPkcs11Spy);
        ASSERT_TRUE(b) << b.error().message();
        ATTACHE_EXPECT_OK(a->token_info(slot));
        ATTACHE_EXPECT_OK(b->token_info(slot));
    }
    const std::string text = attache::testing::read_file(log);
    EXPECT_EQ(count_matches(text, std::regex(R"(\d+: C_Initialize\b)")), 1u) << text;
    EXPECT_EQ(count_matches(text, std::regex(R"(\d+: C_Finalize\b)")), 1u) << text;
    EXPECT_EQ(count_matches(text, std::regex(R"(\d+: C_GetTokenInfo\b)")), 2u) << text;
}

TEST(ModuleLoad, NonexistentPathFailsClearly) {
    const std::string path = "/nonexistent/attache/libnothing.so";
    auto module = Module::load(path);
    ASSERT_FALSE(module);
    const std::string& m = module.error().message();
    EXPECT_NE(m.find("cannot load PKCS#11 module"), std::string::npos) << m;
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("No such file"), std::string::npos) << m;  // dlerror's reason
    EXPECT_FALSE(module.error().rv().has_value());
}

TEST(ModuleLoad, LibraryWithoutFunctionListFailsClearly) {
    const std::string path = "/lib/x86_64-linux-gnu/libz.so.1";
    if (!std::filesystem::exists(path))
        GTEST_SKIP() << path << " is not installed";
    auto module = Module::load(path);
    ASSERT_FALSE(module);
    const std::string& m = module.error().message();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("C_GetFunctionList"), std::string::npos) << m;
}

TEST(ModuleResolve, PathIsTakenAsIs) {
    auto path = Module::resolve("./relative/libx.so");
    ASSERT_TRUE(path) << path.error().message();
    EXPECT_EQ(*path, "./relative/libx.so");
}

TEST(ModuleResolve, P11KitProxy) {
    auto path = Module::resolve(kP11KitProxy);
    ASSERT_TRUE(path) << path.error().message();
    EXPECT_EQ(std::filesystem::path(*path).filename(), "p11-kit-proxy.so");
    EXPECT_TRUE(std::filesystem::exists(*path)) << *path;
}

TEST(ModuleResolve, FileNameInP11KitModuleDirectory) {
    auto path = Module::resolve("opensc-pkcs11.so");
    ASSERT_TRUE(path) << path.error().message();
    EXPECT_EQ(std::filesystem::path(*path).filename(), "opensc-pkcs11.so");
    EXPECT_TRUE(std::filesystem::exists(*path)) << *path;
}

// Registered names are the .module file names in p11-kit's config directories; Debian 12's
// OpenSC ships opensc-pkcs11.module and SoftHSM2 softhsm2.module (`p11-kit list-modules`).
TEST(ModuleResolve, RegisteredModuleNames) {
    auto opensc = Module::resolve("opensc-pkcs11");
    ASSERT_TRUE(opensc) << opensc.error().message();
    EXPECT_EQ(std::filesystem::path(*opensc).filename(), "opensc-pkcs11.so");
    EXPECT_TRUE(std::filesystem::exists(*opensc)) << *opensc;

    auto softhsm = Module::resolve("softhsm2");
    ASSERT_TRUE(softhsm) << softhsm.error().message();
    EXPECT_TRUE(std::filesystem::equivalent(*softhsm, SoftHsm::module_path())) << *softhsm;
}

TEST(ModuleResolve, UnknownNameAndEmptySpecFail) {
    auto unknown = Module::resolve("attache-no-such-module");
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.error().message().find("'attache-no-such-module'"), std::string::npos)
        << unknown.error().message();
    auto loaded = Module::load("attache-no-such-module");
    EXPECT_FALSE(loaded);

    auto empty = Module::resolve("");
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().message().find("empty"), std::string::npos);
}

using ModuleTest = TokenTest;

TEST_F(ModuleTest, SlotsWithAndWithoutToken) {
    auto all = module().slots(false);
    ASSERT_TRUE(all) << all.error().message();
    auto with_token = module().slots(true);
    ASSERT_TRUE(with_token) << with_token.error().message();
    EXPECT_TRUE(contains(*all, slot_));
    EXPECT_TRUE(contains(*with_token, slot_));
    // Every slot with a token is a slot; SoftHSM2 adds one slot with a blank token.
    for (CK_SLOT_ID s : *with_token)
        EXPECT_TRUE(contains(*all, s)) << s;
    ASSERT_EQ(all->size(), 2u);
    const CK_SLOT_ID blank = (*all)[0] == slot_ ? (*all)[1] : (*all)[0];

    auto slot = module().slot_info(slot_);
    ASSERT_TRUE(slot) << slot.error().message();
    EXPECT_TRUE(slot->token_present());
    EXPECT_FALSE(slot->removable());
    EXPECT_FALSE(slot->description.empty());
    EXPECT_FALSE(slot->description.ends_with(" "));
    EXPECT_EQ(slot->manufacturer, "SoftHSM project");

    auto initialized = module().token_info(slot_);
    ASSERT_TRUE(initialized) << initialized.error().message();
    EXPECT_TRUE(initialized->initialized());
    auto uninitialized = module().token_info(blank);
    ASSERT_TRUE(uninitialized) << uninitialized.error().message();
    EXPECT_FALSE(uninitialized->initialized());
}

TEST_F(ModuleTest, InvalidSlotNamesTheSlotAndTheError) {
    const CK_SLOT_ID bogus = 0x7fff1234;
    auto info = module().token_info(bogus);
    ASSERT_FALSE(info);
    EXPECT_TRUE(info.error().is(CKR_SLOT_ID_INVALID)) << info.error().message();
    EXPECT_EQ(info.error().message(),
              "C_GetTokenInfo(slot " + std::to_string(bogus) + "): CKR_SLOT_ID_INVALID");
    EXPECT_FALSE(module().open_session(bogus));
}

TEST_F(ModuleTest, TokenInfoStringsAreTrimmed) {
    auto info = module().token_info(slot_);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->label, kTokenLabel);
    EXPECT_EQ(info->manufacturer, "SoftHSM project");
    EXPECT_EQ(info->model, "SoftHSM v2");
    EXPECT_FALSE(info->serial.empty());
    for (const std::string* s : {&info->label, &info->manufacturer, &info->model, &info->serial}) {
        EXPECT_EQ(s->find_last_not_of(" \t"), s->size() - 1) << "'" << *s << "'";
        EXPECT_EQ(s->find('\0'), std::string::npos);
    }
    // The raw structure keeps the padding for URI matching.
    EXPECT_EQ(info->raw.label[sizeof info->raw.label - 1], ' ');
    EXPECT_GE(info->max_pin_len, info->min_pin_len);
    EXPECT_GT(info->min_pin_len, 0u);
}

TEST_F(ModuleTest, LabelsWithInnerBlanksAndFullWidthSurvive) {
    const std::string spaced = "my  token 1";
    const std::string full(32, 'x');  // fills the field: no padding at all
    CK_SLOT_ID s1 = hsm_.add_token(spaced);
    CK_SLOT_ID s2 = hsm_.add_token(full);
    // SoftHSM2 reads its token directory at C_Initialize: reload to see the new tokens.
    session_.reset();
    module_.reset();
    auto module = Module::load(SoftHsm::module_path());
    ASSERT_TRUE(module) << module.error().message();
    auto i1 = module->token_info(s1);
    ASSERT_TRUE(i1) << i1.error().message();
    EXPECT_EQ(i1->label, spaced);
    auto i2 = module->token_info(s2);
    ASSERT_TRUE(i2) << i2.error().message();
    EXPECT_EQ(i2->label, full);
}

TEST_F(ModuleTest, TokenFlags) {
    auto info = module().token_info(slot_);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_TRUE(info->login_required());
    EXPECT_TRUE(info->initialized());
    EXPECT_TRUE(info->flags & CKF_USER_PIN_INITIALIZED);
    EXPECT_TRUE(info->flags & CKF_RNG);
    EXPECT_FALSE(info->protected_authentication_path());
    EXPECT_FALSE(info->user_pin_locked());
    EXPECT_FALSE(info->user_pin_final_try());
    EXPECT_FALSE(info->so_pin_locked());
    EXPECT_EQ(pin_flag_names(info->flags), "");
    EXPECT_EQ(pin_flag_names(CKF_USER_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED | CKF_RNG),
              "user-pin-count-low,so-pin-locked");
}

TEST_F(ModuleTest, MechanismList) {
    auto mechanisms = module().mechanisms(slot_);
    ASSERT_TRUE(mechanisms) << mechanisms.error().message();
    const std::set<CK_MECHANISM_TYPE> set(mechanisms->begin(), mechanisms->end());
    EXPECT_EQ(set.size(), mechanisms->size()) << "duplicates in the mechanism list";
    for (CK_MECHANISM_TYPE m :
         {CKM_ECDSA, CKM_EDDSA, CKM_ECDH1_DERIVE, CKM_EC_KEY_PAIR_GEN, CKM_EC_EDWARDS_KEY_PAIR_GEN,
          CKM_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP, CKM_SHA256_RSA_PKCS,
          CKM_RSA_PKCS_KEY_PAIR_GEN}) {
        EXPECT_EQ(set.count(m), 1u) << mechanism_name(m);
    }
}

TEST_F(ModuleTest, MechanismInfo) {
    auto rsa = module().mechanism_info(slot_, CKM_RSA_PKCS_KEY_PAIR_GEN);
    ASSERT_TRUE(rsa) << rsa.error().message();
    EXPECT_TRUE(rsa->flags & CKF_GENERATE_KEY_PAIR);
    EXPECT_LE(rsa->ulMinKeySize, 2048u);
    EXPECT_GE(rsa->ulMaxKeySize, 4096u);

    auto ecdsa = module().mechanism_info(slot_, CKM_ECDSA);
    ASSERT_TRUE(ecdsa) << ecdsa.error().message();
    EXPECT_TRUE(ecdsa->flags & CKF_SIGN);
    EXPECT_TRUE(ecdsa->flags & CKF_VERIFY);
    EXPECT_FALSE(ecdsa->flags & CKF_DECRYPT);

    auto oaep = module().mechanism_info(slot_, CKM_RSA_PKCS_OAEP);
    ASSERT_TRUE(oaep) << oaep.error().message();
    EXPECT_TRUE(oaep->flags & CKF_DECRYPT);

    auto none = module().mechanism_info(slot_, CKM_VENDOR_DEFINED + 0x4711);
    ASSERT_FALSE(none);
    EXPECT_TRUE(none.error().is(CKR_MECHANISM_INVALID)) << none.error().message();
    EXPECT_NE(none.error().message().find("CKR_MECHANISM_INVALID"), std::string::npos);
}

// C_InitToken on SoftHSM2's blank token: label padded and read back trimmed, then the SO sets
// the user PIN and the user logs in.
TEST_F(ModuleTest, InitTokenOnTheBlankSlot) {
    auto all = module().slots(false);
    ASSERT_TRUE(all) << all.error().message();
    ASSERT_EQ(all->size(), 2u);
    const CK_SLOT_ID blank = (*all)[0] == slot_ ? (*all)[1] : (*all)[0];

    Secret so_pin = test::secret(SoftHsm::kSoPin);
    ATTACHE_ASSERT_OK(module().init_token(blank, so_pin, "fresh token"));
    auto info = module().token_info(blank);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->label, "fresh token");
    EXPECT_TRUE(info->initialized());
    EXPECT_FALSE(info->flags & CKF_USER_PIN_INITIALIZED);

    auto session = module().open_session(blank, true);
    ASSERT_TRUE(session) << session.error().message();
    ATTACHE_ASSERT_OK(session->login(CKU_SO, &so_pin));
    Secret user_pin = test::secret("5555");
    ATTACHE_ASSERT_OK(session->init_pin(user_pin));
    ATTACHE_ASSERT_OK(session->logout());
    ATTACHE_ASSERT_OK(session->login(CKU_USER, &user_pin));
    auto after = module().token_info(blank);
    ASSERT_TRUE(after) << after.error().message();
    EXPECT_TRUE(after->flags & CKF_USER_PIN_INITIALIZED);
}

TEST_F(ModuleTest, InitTokenRefusals) {
    Secret so_pin = test::secret(SoftHsm::kSoPin);
    // The fixture has a session open on its token.
    auto busy = module().init_token(slot_, so_pin, "wiped");
    ASSERT_FALSE(busy);
    EXPECT_TRUE(busy.error().is(CKR_SESSION_EXISTS)) << busy.error().message();
    EXPECT_EQ(busy.error().message(),
              "C_InitToken(slot " + std::to_string(slot_) + "): CKR_SESSION_EXISTS");

    session_.reset();
    Secret wrong = test::secret("00000000");
    auto refused = module().init_token(slot_, wrong, "wiped");
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().is(CKR_PIN_INCORRECT)) << refused.error().message();
    auto info = module().token_info(slot_);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->label, kTokenLabel);

    // A label longer than the field is cut to its 32 bytes.
    const std::string long_label = "abcdefghijklmnopqrstuvwxyz0123456789";
    ATTACHE_ASSERT_OK(module().init_token(slot_, so_pin, long_label));
    auto relabelled = module().token_info(slot_);
    ASSERT_TRUE(relabelled) << relabelled.error().message();
    EXPECT_EQ(relabelled->label, long_label.substr(0, 32));
}

TEST_F(ModuleTest, SlotEventWithoutBlocking) {
    // SoftHSM2 has no slot events: either "none" or "not supported", never a hang.
    auto event = module().wait_for_slot_event(/*dont_block=*/true);
    if (!event) {
        EXPECT_TRUE(event.error().is(CKR_NO_EVENT) || event.error().is(CKR_FUNCTION_NOT_SUPPORTED))
            << event.error().message();
    }
}

}  // namespace
}  // namespace attache::p11
