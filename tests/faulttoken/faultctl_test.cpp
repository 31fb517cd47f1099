// Tests of attache-faultctl, run as a separate process on a temporary control file.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/faulttoken/fault_control.h"
#include "tests/faulttoken/slot_states.h"
#include "tests/support/command.h"
#include "tests/support/temp_dir.h"

namespace attache::faulttoken::testing {
namespace {

using attache::testing::CommandResult;
using attache::testing::describe;
using attache::testing::run_command;

class FaultctlTest : public ::testing::Test {
  protected:
    CommandResult faultctl(std::vector<std::string> args) {
        args.insert(args.begin(), {ATTACHE_FAULTCTL_PATH, path_});
        return run_command(args);
    }

    attache::testing::TempDir dir_{"attache-faultctl"};
    std::string path_ = (dir_ / "control").string();
};

// The first rule in use, or nullptr.
const Rule* first_rule(const ControlBlock& block) {
    for (const Rule& rule : block.rules) {
        if (rule.kind.load() != RuleKind::kFree) {
            return &rule;
        }
    }
    return nullptr;
}

TEST_F(FaultctlTest, InitCreatesAControlFile) {
    const CommandResult result = faultctl({"init"});
    ASSERT_EQ(result.exit_code, 0) << describe(result);
    FaultControl control = FaultControl::open(path_);
    EXPECT_FALSE(control.is_absent(7));
}

TEST_F(FaultctlTest, CommandsChangeWhatFaultControlReads) {
    ASSERT_EQ(faultctl({"init"}).exit_code, 0);
    FaultControl control = FaultControl::open(path_);

    ASSERT_EQ(faultctl({"absent", "1234567"}).exit_code, 0);
    EXPECT_TRUE(control.is_absent(1234567));
    EXPECT_FALSE(control.is_absent(7));
    ASSERT_EQ(faultctl({"present", "1234567"}).exit_code, 0);
    EXPECT_FALSE(control.is_absent(1234567));
    ASSERT_EQ(faultctl({"absent", "all"}).exit_code, 0);
    EXPECT_TRUE(control.is_absent(7));
    ASSERT_EQ(faultctl({"present", "all"}).exit_code, 0);
    EXPECT_FALSE(control.is_absent(7));

    const CommandResult fail =
        faultctl({"fail", "C_Sign", "CKR_DEVICE_ERROR", "--slot", "0x10", "--count", "2"});
    ASSERT_EQ(fail.exit_code, 0) << describe(fail);
    const Rule* rule = first_rule(control.block());
    ASSERT_NE(rule, nullptr);
    EXPECT_EQ(rule->kind.load(), RuleKind::kFail);
    EXPECT_EQ(rule->function.load(), Fn::C_Sign);
    EXPECT_EQ(rule->rv.load(), CKR_DEVICE_ERROR);
    EXPECT_EQ(rule->slot_id.load(), 16u);
    EXPECT_EQ(rule->remaining.load(), 2);
    ASSERT_EQ(faultctl({"clear"}).exit_code, 0);
    EXPECT_EQ(first_rule(control.block()), nullptr);

    ASSERT_EQ(faultctl({"delay", "C_Login", "250"}).exit_code, 0);
    rule = first_rule(control.block());
    ASSERT_NE(rule, nullptr);
    EXPECT_EQ(rule->kind.load(), RuleKind::kDelay);
    EXPECT_EQ(rule->delay_ms.load(), 250u);
    EXPECT_EQ(rule->slot_id.load(), kAnySlot);
    ASSERT_EQ(faultctl({"clear"}).exit_code, 0);
    ASSERT_EQ(faultctl({"hang", "C_Login", "--slot", "3"}).exit_code, 0);
    EXPECT_EQ(first_rule(control.block())->kind.load(), RuleKind::kHang);
    ASSERT_EQ(faultctl({"clear"}).exit_code, 0);
    ASSERT_EQ(faultctl({"crash", "C_Sign", "--slot", "3"}).exit_code, 0);
    EXPECT_EQ(first_rule(control.block())->kind.load(), RuleKind::kCrash);

    ASSERT_EQ(faultctl({"serial", "5", "CARD-B"}).exit_code, 0);
    EXPECT_EQ(serial_override(control.block(), 5), "CARD-B");
    ASSERT_EQ(faultctl({"pin-flags", "CKF_USER_PIN_FINAL_TRY", "CKF_PROTECTED_AUTHENTICATION_PATH",
                        "--slot", "5"})
                  .exit_code,
              0);
    EXPECT_EQ(extra_token_flags(control.block(), 5),
              CKF_USER_PIN_FINAL_TRY | CKF_PROTECTED_AUTHENTICATION_PATH);
    ASSERT_EQ(faultctl({"max-pin-tries", "3"}).exit_code, 0);
    EXPECT_EQ(control.block().max_pin_tries.load(), 3u);
    ASSERT_EQ(faultctl({"pinpad-pin", "123456"}).exit_code, 0);
    EXPECT_EQ(control.block().pinpad_pin.load(), "123456");
}

TEST_F(FaultctlTest, CountsPrintsNonzeroCountersAndResetClearsThem) {
    ASSERT_EQ(faultctl({"init"}).exit_code, 0);
    FaultControl control = FaultControl::open(path_);
    control.block().calls[index_of(Fn::C_Login)].store(1);
    control.block().calls[index_of(Fn::C_Sign)].store(12);
    control.block().forwarded[index_of(Fn::C_Sign)].store(10);

    CommandResult counts = faultctl({"counts"});
    ASSERT_EQ(counts.exit_code, 0) << describe(counts);
    EXPECT_EQ(counts.out, "C_Login 1\nC_Sign 12\n");
    counts = faultctl({"counts", "--forwarded"});
    EXPECT_EQ(counts.out, "C_Sign 10\n");

    ASSERT_EQ(faultctl({"reset-counts"}).exit_code, 0);
    EXPECT_EQ(control.count(Fn::C_Sign), 0u);
    EXPECT_EQ(faultctl({"counts"}).out, "");
}

TEST_F(FaultctlTest, RejectsBadUsage) {
    ASSERT_EQ(faultctl({"init"}).exit_code, 0);
    EXPECT_EQ(faultctl({"fail", "C_Nothing", "CKR_OK"}).exit_code, 2);
    EXPECT_EQ(faultctl({"fail", "C_Sign", "CKR_NOTHING"}).exit_code, 2);
    EXPECT_EQ(faultctl({"absent"}).exit_code, 2);
    EXPECT_EQ(faultctl({"clear", "--count", "3"}).exit_code, 2);
    EXPECT_EQ(faultctl({"explode"}).exit_code, 2);
    const CommandResult missing = run_command({ATTACHE_FAULTCTL_PATH, path_ + ".missing", "clear"});
    EXPECT_EQ(missing.exit_code, 1) << describe(missing);
}

}  // namespace
}  // namespace attache::faulttoken::testing
