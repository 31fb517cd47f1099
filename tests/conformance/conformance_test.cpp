// The conformance suite: the same PKCS#11 checks (tests/conformance/probe.cpp) against
// SoftHSM2 directly and against attache-pkcs11.so on the same token through a running agent.
// Any difference fails the test unless it is one of the by-design differences below, each with
// its reason (docs/protocol.md, "attache-pkcs11.so: by-design differences", lists the same).
//
// The agent starts locked and without a PIN prompt, so that both paths see the same login
// state: the application's C_Login with the PIN is what unlocks (forwarded once to the agent).

#include <dlfcn.h>

#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "tests/conformance/probe.h"
#include "tests/forwarding/forwarding_fixture.h"

namespace attache::testing {
namespace {

struct Difference {
    std::string direct;  // SoftHSM2's answer
    // The module's answer; "=NAME": the value recorded under NAME on the same path.
    std::string forwarded;
    const char* reason;
};

// By design: every entry says why the module answers otherwise than the card's own module.
// (docs/protocol.md, "Deliberate differences from the card opened directly", says the same.)
const std::map<std::string, Difference>& by_design() {
    static const std::map<std::string, Difference> d = [] {
        std::map<std::string, Difference> m = {
            {"rv.logout.not_logged_in",
             {"CKR_OK", "CKR_USER_NOT_LOGGED_IN",
              "the standard's code: SoftHSM2 accepts C_Logout without a login"}},
            {"rv.logout.again",
             {"CKR_OK", "CKR_USER_NOT_LOGGED_IN",
              "the standard's code: SoftHSM2 accepts C_Logout without a login"}},
            {"rv.decrypt.wrong_length",
             {"CKR_GENERAL_ERROR", "CKR_ENCRYPTED_DATA_LEN_RANGE",
              "the standard's code for ciphertext of the wrong length; SoftHSM2 fails "
              "generally"}},
            {"rv.sign_init.logged_out",
             {"CKR_OBJECT_HANDLE_INVALID", "CKR_USER_NOT_LOGGED_IN",
              "the standard's C_SignInit code for a private key without a login (tells the "
              "application to log in again after a lock from outside); SoftHSM2 answers with "
              "a code C_SignInit does not have"}},
            {"rv.sign_init.handle_of_earlier_login",
             {"CKR_OBJECT_HANDLE_INVALID", "CKR_KEY_HANDLE_INVALID",
              "both end a private key's handle with its login (the key comes back under a new "
              "one); the module answers with C_SignInit's code for it"}},
            {"fork.child",
             {"CKR_CRYPTOKI_ALREADY_INITIALIZED signs", "CKR_OK signs",
              "the child starts uninitialised (PKCS#11 2.40, 6.6.1: it must call C_Initialize); "
              "SoftHSM2 keeps the parent's state in the child"}},
        };
        for (const char* label : {"ec-sign", "rsa-sign", "rsa-decrypt", "ec-derive"}) {
            const std::string k = std::string("attr.") + label + ".";
            m[k + "private.257"] = {
                "CKR_OK ", "=" + k + "certificate.257",
                "CKA_SUBJECT of a private key is its certificate's subject (PKCS#11 2.40, "
                "4.9): the module fills it in; keys generated on SoftHSM2 leave it empty"};
        }
        return m;
    }();
    return d;
}

class ConformanceTest : public ForwardingTest {};

TEST_F(ConformanceTest, ModuleAnswersAsTheTokenDoesExceptByDesign) {
    start_agent({alice_token(false)});
    std::map<std::string, PkeyPtr> owned;
    ProbeKeys keys;
    for (const char* label : {"ec-sign", "rsa-sign", "rsa-decrypt", "ec-derive"}) {
        owned[label] = public_key(label);
        keys.public_keys[label] = owned[label].get();
    }

    // SoftHSM2 directly, in this process.
    void* h = dlopen(SoftHsm::module_path().c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(h, nullptr);
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(h, "C_GetFunctionList"));
    CK_FUNCTION_LIST* softhsm = nullptr;
    ASSERT_EQ(get(&softhsm), CKR_OK);
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    const CK_RV init = softhsm->C_Initialize(&args);
    ASSERT_TRUE(init == CKR_OK || init == CKR_CRYPTOKI_ALREADY_INITIALIZED);
#if defined(__SANITIZE_ADDRESS__)
    __lsan_disable();
#endif
    const Record direct = Probe(*softhsm, hsm_slots_.at("alice"), SoftHsm::kUserPin, keys).run();
#if defined(__SANITIZE_ADDRESS__)
    __lsan_enable();
#endif

    // Through the module, the agent locked: the PIN goes to the agent with C_Login.
    initialize();
    const Record forwarded = Probe(p11(), only_slot(), SoftHsm::kUserPin, keys).run();

    size_t compared = 0;
    for (const auto& [name, value] : direct) {
        auto it = forwarded.find(name);
        ASSERT_NE(it, forwarded.end()) << name;
        ++compared;
        if (auto d = by_design().find(name); d != by_design().end()) {
            const std::string& want = d->second.forwarded;
            const std::string forwarded_want =
                want.starts_with("=") ? forwarded.at(want.substr(1)) : want;
            EXPECT_EQ(value, d->second.direct) << name << " (" << d->second.reason << ")";
            EXPECT_EQ(it->second, forwarded_want) << name << " (" << d->second.reason << ")";
            continue;
        }
        EXPECT_EQ(it->second, value)
            << name << ": SoftHSM2 says " << value << ", the module " << it->second;
    }
    EXPECT_EQ(direct.size(), forwarded.size());
    // The checks did something on both paths.
    EXPECT_EQ(direct.at("sign.verifies"), "1");
    EXPECT_EQ(direct.at("sign_multi.verifies"), "1");
    EXPECT_EQ(direct.at("decrypt.plain"), "1");
    EXPECT_EQ(direct.at("decrypt_oaep.plain"), "1");
    EXPECT_EQ(direct.at("derive.value"), "1");
    EXPECT_EQ(direct.at("threads.failures"), "0");
    EXPECT_GT(compared, 150u);
}

}  // namespace
}  // namespace attache::testing
