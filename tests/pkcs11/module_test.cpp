#include <gtest/gtest.h>

#include "pkcs11/module.h"
#include "tests/support/softhsm.h"

namespace attache::p11 {
namespace {

TEST(Module, LoadsSoftHsm) {
    testing::SoftHsm hsm;
    CK_SLOT_ID slot = hsm.add_token("alice");
    auto module = Module::load(testing::SoftHsm::module_path());
    ASSERT_TRUE(module) << module.error().message();
    auto info = module->token_info(slot);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->label, "alice");
}

}  // namespace
}  // namespace attache::p11
