// A helper that crashes, is killed or hangs costs its Module only: alive() turns false, the
// reason names the signal and the call, every call answers CKR_DEVICE_ERROR, on_stop runs once,
// and a hung call does not hold up another call to the same helper.

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/module_helper/helper_fixture.h"
#include "tests/support/eventually.h"

namespace attache::p11::test {
namespace {

using attache::faulttoken::Fn;

// Counts on_stop calls and keeps the last reason.
struct StopRecorder {
    std::mutex mutex;
    int calls = 0;
    std::string reason;

    std::function<void(const std::string&)> callback() {
        return [this](const std::string& r) {
            std::lock_guard lock(mutex);
            ++calls;
            reason = r;
        };
    }
    int count() {
        std::lock_guard lock(mutex);
        return calls;
    }
};

CK_RV slot_list_rv(const Module& module) {
    CK_ULONG count = 0;
    return module.fn()->C_GetSlotList(CK_TRUE, nullptr, &count);
}

using HelperCrashTest = FaultHelperTest;

TEST_F(HelperCrashTest, AbortInsideSignStopsTheModuleOnly) {
    StopRecorder stops;
    module_->on_stop(stops.callback());
    ASSERT_EQ(sign_once(), CKR_OK);
    control_->crash(Fn::C_Sign, slot_);

    EXPECT_EQ(sign_once(), CKR_DEVICE_ERROR);
    EXPECT_FALSE(module_->alive());
    EXPECT_EQ(module_->stop_reason(),
              "the module's helper process was killed by signal 6 (SIGABRT) in C_Sign");
    EXPECT_EQ(slot_list_rv(*module_), CKR_DEVICE_ERROR);
    EXPECT_EQ(sign_once(), CKR_DEVICE_ERROR);
    ASSERT_TRUE(attache::testing::eventually([&] { return stops.count() >= 1; }));
    EXPECT_EQ(stops.count(), 1);
    EXPECT_EQ(stops.reason, module_->stop_reason());

    // A callback registered after the stop runs at once, on this thread.
    StopRecorder late;
    module_->on_stop(late.callback());
    EXPECT_EQ(late.count(), 1);
}

TEST_F(HelperCrashTest, SigkillOfTheHelperIsSeen) {
    StopRecorder stops;
    module_->on_stop(stops.callback());
    const pid_t pid = module_->helper_pid();
    ASSERT_GT(pid, 0);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    ASSERT_TRUE(attache::testing::eventually([&] { return stops.count() == 1; }));
    EXPECT_FALSE(module_->alive());
    EXPECT_EQ(module_->stop_reason(),
              "the module's helper process was killed by signal 9 (SIGKILL)");
    EXPECT_EQ(sign_once(), CKR_DEVICE_ERROR);
    EXPECT_EQ(stops.count(), 1);
}

// A call timeout short enough for a test, long enough for SoftHSM2's key generation in SetUp.
class HelperHangTest : public FaultHelperTest {
  protected:
    std::chrono::milliseconds call_timeout() const override { return std::chrono::seconds(3); }
};

TEST_F(HelperHangTest, HungSignIsKilledWhileOtherCallsStillAnswer) {
    StopRecorder stops;
    module_->on_stop(stops.callback());
    control_->reset_counts();
    control_->hang(Fn::C_Sign, slot_);
    std::atomic<bool> returned{false};
    CK_RV hung_rv = CKR_OK;
    std::thread hung([&] {
        hung_rv = sign_once();
        returned = true;
    });
    // Once C_Sign is inside the module, another thread's call goes through the same helper.
    ASSERT_TRUE(attache::testing::eventually([&] { return control_->count(Fn::C_Sign) == 1; }));
    EXPECT_EQ(slot_list_rv(*module_), CKR_OK);
    EXPECT_FALSE(returned.load()) << "C_Sign came back before it overran the call timeout";
    EXPECT_TRUE(module_->alive());

    hung.join();  // the watcher kills the helper when C_Sign overruns 3 s
    EXPECT_EQ(hung_rv, CKR_DEVICE_ERROR);
    EXPECT_FALSE(module_->alive());
    EXPECT_EQ(module_->stop_reason(),
              "the module's helper process was killed: C_Sign overran the call timeout of 3000 ms");
    EXPECT_EQ(slot_list_rv(*module_), CKR_DEVICE_ERROR);
    ASSERT_TRUE(attache::testing::eventually([&] { return stops.count() == 1; }));
}

TEST_F(HelperHangTest, HungSlotListIsKilledAndNamed) {
    control_->hang(Fn::C_GetSlotList);
    EXPECT_EQ(slot_list_rv(*module_), CKR_DEVICE_ERROR);
    EXPECT_FALSE(module_->alive());
    EXPECT_EQ(module_->stop_reason(),
              "the module's helper process was killed: C_GetSlotList overran the call timeout of "
              "3000 ms");
}

TEST_F(HelperHangTest, PinPadLoginIsNotTimedButATypedPinIs) {
    // The PIN pad (NULL PIN) waits for a person: slower than the call timeout, and not killed.
    control_->set_pin_flags(CKF_PROTECTED_AUTHENTICATION_PATH, slot_);
    control_->set_pinpad_pin(attache::testing::SoftHsm::kUserPin);
    ASSERT_EQ(module_->fn()->C_Logout(session_->handle()), CKR_OK);
    control_->delay(Fn::C_Login, 4500);
    EXPECT_EQ(module_->fn()->C_Login(session_->handle(), CKU_USER, nullptr, 0), CKR_OK);
    EXPECT_TRUE(module_->alive()) << module_->stop_reason();

    // The same delay with a typed PIN is a hang.
    ASSERT_EQ(module_->fn()->C_Logout(session_->handle()), CKR_OK);
    std::string pin = attache::testing::SoftHsm::kUserPin;
    EXPECT_EQ(module_->fn()->C_Login(session_->handle(), CKU_USER,
                                     reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), pin.size()),
              CKR_DEVICE_ERROR);
    EXPECT_EQ(
        module_->stop_reason(),
        "the module's helper process was killed: C_Login overran the call timeout of 3000 ms");
}

TEST_F(HelperHangTest, BlockingSlotEventIsNotTimed) {
    // C_WaitForSlotEvent without CKF_DONT_BLOCK may wait for a person: it is not killed, and the
    // helper answers other calls meanwhile. Ending the Module ends the wait.
    CK_SLOT_ID slot = 0;
    std::thread waiter([&] { module_->fn()->C_WaitForSlotEvent(0, &slot, nullptr); });
    ASSERT_TRUE(
        attache::testing::eventually([&] { return control_->count(Fn::C_WaitForSlotEvent) >= 1; }));
    EXPECT_EQ(sign_once(), CKR_OK);
    EXPECT_TRUE(module_->alive());
    session_->abandon();
    session_.reset();
    module_.reset();  // the waiter gets CKR_DEVICE_ERROR
    waiter.join();
}

}  // namespace
}  // namespace attache::p11::test
