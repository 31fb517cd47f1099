#include "tests/pkcs11/fixture.h"

#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "pkcs11/uri.h"

extern char** environ;

namespace attache::p11::test {

bool helper_backend() {
    const char* backend = std::getenv("ATTACHE_TEST_MODULE_BACKEND");
    return backend != nullptr && std::string_view(backend) == "helper";
}

HelperOptions test_helper_options() {
    HelperOptions options;
    options.helper_path = ATTACHE_TEST_MODULE_HELPER;
    for (char** e = environ; *e != nullptr; ++e)
        options.environment.emplace_back(*e);
    options.call_timeout = std::chrono::seconds(60);
    return options;
}

Result<Module> load_test_module(const std::string& spec) {
    if (helper_backend())
        return Module::start_helper(spec, test_helper_options());
    return Module::load(spec);
}

Secret secret(std::string_view text) {
    Secret s;
    if (!Secret::from(text, s))
        throw std::runtime_error("test secret does not fit a Secret");
    return s;
}

KeyPairSpec key_spec(KeyAlgorithm algorithm, KeyUsage usage, std::string label) {
    KeyPairSpec spec;
    spec.algorithm = algorithm;
    spec.usage = usage;
    spec.label = std::move(label);
    return spec;
}

Result<Session> open_user_session(const Module& module, CK_SLOT_ID slot) {
    ATTACHE_TRY(Session session, module.open_session(slot, /*read_write=*/true));
    Secret pin = secret(attache::testing::SoftHsm::kUserPin);
    ATTACHE_CHECK(session.login(CKU_USER, &pin));
    return session;
}

Result<Module> TokenTest::load_module(const std::string& spec) {
    return load_test_module(spec);
}

void TokenTest::SetUp() {
    slot_ = hsm_.add_token(kTokenLabel);
    auto module = load_module(attache::testing::SoftHsm::module_path());
    ASSERT_TRUE(module) << module.error().message();
    module_.emplace(std::move(*module));
    auto info = module_->token_info(slot_);
    ASSERT_TRUE(info) << info.error().message();
    token_ = *info;
    auto session = open_user_session(*module_, slot_);
    ASSERT_TRUE(session) << session.error().message();
    session_.emplace(std::move(*session));
}

void TokenTest::TearDown() {
    session_.reset();
    module_.reset();
}

Result<Pkey> TokenTest::public_key_of(CK_OBJECT_HANDLE public_key) const {
    ATTACHE_TRY(AttributeValues values, session_->read(public_key, kPublicKeyAttributes));
    return public_key_from(values);
}

std::string TokenTest::uri_of(CK_OBJECT_CLASS klass, const Bytes& id,
                              const std::string& label) const {
    return Uri::for_object(token_, klass, id, label);
}

}  // namespace attache::p11::test
