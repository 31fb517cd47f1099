#include "tests/module_helper/helper_fixture.h"

#include <cstdlib>

#include "pkcs11/keygen.h"

namespace attache::p11::test {

Result<Module> HelperTokenTest::load_module(const std::string& spec) {
    return Module::start_helper(spec, test_helper_options());
}

void FaultHelperTest::SetUp() {
    slot_ = hsm_.add_token("fault-helper");
    control_.emplace(attache::faulttoken::FaultControl::create((dir_ / "control").string()));
    HelperOptions options = test_helper_options();
    options.environment.push_back("ATTACHE_FAULT_CONTROL=" + (dir_ / "control").string());
    options.environment.push_back("ATTACHE_FAULT_MODULE=" +
                                  attache::testing::SoftHsm::module_path());
    options.call_timeout = call_timeout();
    auto module = Module::start_helper(ATTACHE_FAULTTOKEN_PATH, options);
    ASSERT_TRUE(module) << module.error().message();
    module_.emplace(std::move(*module));
    auto session = open_user_session(*module_, slot_);
    ASSERT_TRUE(session) << session.error().message();
    session_.emplace(std::move(*session));
    auto keys =
        generate_key_pair(*session_, key_spec(KeyAlgorithm::ec_p256, kSignOnly, "fault-key"));
    ASSERT_TRUE(keys) << keys.error().message();
    key_ = keys->private_key;
}

void FaultHelperTest::TearDown() {
    if (control_)
        control_->clear_rules();  // releases hung calls
    if (session_)
        session_->abandon();  // the helper may be gone; closing would only fail
    session_.reset();
    module_.reset();
}

CK_RV FaultHelperTest::sign_once() {
    CK_FUNCTION_LIST* fn = module_->fn();
    CK_MECHANISM mechanism{CKM_ECDSA, nullptr, 0};
    if (CK_RV rv = fn->C_SignInit(session_->handle(), &mechanism, key_); rv != CKR_OK)
        return rv;
    CK_BYTE digest[32] = {1, 2, 3};
    CK_BYTE signature[256];
    CK_ULONG length = sizeof signature;
    return fn->C_Sign(session_->handle(), digest, sizeof digest, signature, &length);
}

}  // namespace attache::p11::test
