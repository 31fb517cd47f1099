// Tests of the fault-injecting module, through raw PKCS#11 calls against SoftHSM2 tokens.

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tests/faulttoken/fault_control.h"
#include "tests/faulttoken/rv_names.h"
#include "tests/faulttoken/test/faulttoken_fixture.h"
#include "tests/faulttoken/test/loaded_module.h"
#include "tests/support/softhsm.h"

namespace attache::faulttoken::testing {
namespace {

using namespace std::chrono_literals;
using attache::testing::SoftHsm;

constexpr CK_FLAGS kPinCounterFlags =
    CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED;

bool contains(const std::vector<CK_SLOT_ID>& slots, CK_SLOT_ID slot) {
    return std::find(slots.begin(), slots.end(), slot) != slots.end();
}

std::string padded(const std::string& text, std::size_t width) {
    return text + std::string(width - text.size(), ' ');
}

// Waits (up to 10 s) until the module has received `calls` calls of the function.
void wait_for_calls(const FaultControl& control, Fn function, std::uint64_t calls) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (control.count(function) < calls && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(1ms);
    }
    ASSERT_GE(control.count(function), calls);
}

TEST(FaultTokenModule, ExportsOnlyGetFunctionList) {
    EXPECT_NE(dlsym(faulttoken_library(), "C_GetFunctionList"), nullptr);
    EXPECT_EQ(dlsym(faulttoken_library(), "C_Initialize"), nullptr);
    EXPECT_EQ(dlsym(faulttoken_library(), "C_Sign"), nullptr);
}

TEST(FaultTokenModule, PassesThroughWithoutControlFile) {
    SoftHsm hsm;
    const CK_SLOT_ID slot = hsm.add_token("plain");
    unsetenv("ATTACHE_FAULT_CONTROL");
    setenv("ATTACHE_FAULT_MODULE", SoftHsm::module_path().c_str(), 1);
    CK_FUNCTION_LIST* p11 = faulttoken_functions();
    ASSERT_EQ(p11->C_Initialize(nullptr), CKR_OK);
    CK_SLOT_INFO slot_info{};
    EXPECT_EQ(p11->C_GetSlotInfo(slot, &slot_info), CKR_OK);
    EXPECT_NE(slot_info.flags & CKF_TOKEN_PRESENT, 0u);
    EXPECT_NE(slot_info.flags & CKF_REMOVABLE_DEVICE, 0u);
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    EXPECT_EQ(p11->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &session), CKR_OK);
    CK_BYTE random[16];
    EXPECT_EQ(p11->C_GenerateRandom(session, random, sizeof random), CKR_OK);
    EXPECT_EQ(p11->C_CloseSession(session), CKR_OK);
    EXPECT_EQ(p11->C_Finalize(nullptr), CKR_OK);
}

TEST_F(FaultTokenTest, SignPassesThrough) {
    const CK_SESSION_HANDLE session = open_session();
    login(session);
    const CK_OBJECT_HANDLE key = generate_key(session);
    EXPECT_EQ(rv_name(sign(session, key)), rv_name(CKR_OK));
    EXPECT_EQ(p11_->C_CloseSession(session), CKR_OK);
}

TEST_F(FaultTokenTest, RemovedTokenDisappearsAndItsSessionsStayDead) {
    const CK_SESSION_HANDLE old_session = open_session();
    login(old_session);
    generate_key(old_session);

    control_.set_absent(slot_);
    EXPECT_FALSE(contains(slot_list(true), slot_));
    EXPECT_TRUE(contains(slot_list(false), slot_));
    CK_SLOT_INFO slot_info{};
    ASSERT_EQ(p11_->C_GetSlotInfo(slot_, &slot_info), CKR_OK);
    EXPECT_EQ(slot_info.flags & CKF_TOKEN_PRESENT, 0u);
    EXPECT_NE(slot_info.flags & CKF_REMOVABLE_DEVICE, 0u);
    CK_TOKEN_INFO info{};
    EXPECT_EQ(rv_name(token_info(info)), rv_name(CKR_TOKEN_NOT_PRESENT));
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    EXPECT_EQ(rv_name(p11_->C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &session)),
              rv_name(CKR_TOKEN_NOT_PRESENT));
    CK_ULONG mechanisms = 0;
    EXPECT_EQ(rv_name(p11_->C_GetMechanismList(slot_, nullptr, &mechanisms)),
              rv_name(CKR_TOKEN_NOT_PRESENT));
    CK_SESSION_INFO session_info{};
    EXPECT_EQ(rv_name(p11_->C_GetSessionInfo(old_session, &session_info)),
              rv_name(CKR_DEVICE_REMOVED));

    control_.set_present(slot_);
    EXPECT_TRUE(contains(slot_list(true), slot_));
    ASSERT_EQ(p11_->C_GetSlotInfo(slot_, &slot_info), CKR_OK);
    EXPECT_NE(slot_info.flags & CKF_TOKEN_PRESENT, 0u);
    EXPECT_EQ(token_info(info), CKR_OK);
    EXPECT_EQ(rv_name(p11_->C_GetSessionInfo(old_session, &session_info)),
              rv_name(CKR_SESSION_HANDLE_INVALID));

    const CK_SESSION_HANDLE new_session = open_session();
    EXPECT_NE(new_session, old_session);
    EXPECT_EQ(session_state(new_session), CKS_RW_PUBLIC_SESSION)
        << "a re-inserted token must ask for the PIN again";
    login(new_session);
    EXPECT_EQ(rv_name(sign(new_session, find_private_key(new_session))), rv_name(CKR_OK));
    EXPECT_EQ(rv_name(p11_->C_CloseSession(old_session)), rv_name(CKR_SESSION_HANDLE_INVALID));
    EXPECT_EQ(p11_->C_CloseSession(new_session), CKR_OK);
}

TEST_F(FaultTokenTest, RemovingEveryTokenEmptiesTheSlotList) {
    const CK_SESSION_HANDLE session = open_session();
    control_.set_absent(kAnySlot);
    EXPECT_TRUE(control_.is_absent(slot_));
    EXPECT_TRUE(slot_list(true).empty());
    CK_BYTE random[8];
    EXPECT_EQ(rv_name(p11_->C_GenerateRandom(session, random, sizeof random)),
              rv_name(CKR_DEVICE_REMOVED));
    control_.set_present(kAnySlot);
    EXPECT_TRUE(contains(slot_list(true), slot_));
    EXPECT_EQ(rv_name(p11_->C_GenerateRandom(session, random, sizeof random)),
              rv_name(CKR_SESSION_HANDLE_INVALID));
    EXPECT_EQ(p11_->C_GenerateRandom(open_session(), random, sizeof random), CKR_OK);
}

TEST_F(FaultTokenTest, FailRuleAnswersItsRvForCountCallsOnly) {
    const CK_SESSION_HANDLE session = open_session();
    login(session);
    const CK_OBJECT_HANDLE key = generate_key(session);
    control_.fail(Fn::C_Sign, CKR_DEVICE_ERROR, slot_, 1);

    EXPECT_EQ(rv_name(sign(session, key)), rv_name(CKR_DEVICE_ERROR));
    EXPECT_EQ(control_.forwarded_count(Fn::C_Sign), 0u) << "the real C_Sign must not be called";
    // As after a real failure, the operation has ended and a new one can start.
    EXPECT_EQ(rv_name(sign(session, key)), rv_name(CKR_OK));
    EXPECT_EQ(rv_name(sign(session, key)), rv_name(CKR_OK));
    EXPECT_EQ(control_.count(Fn::C_Sign), 3u);
    EXPECT_EQ(control_.forwarded_count(Fn::C_Sign), 2u);
}

TEST_F(FaultTokenTest, FailRuleForAnotherSlotDoesNotFire) {
    control_.fail(Fn::C_GetTokenInfo, CKR_DEVICE_ERROR, slot_ + 1);
    CK_TOKEN_INFO info{};
    EXPECT_EQ(token_info(info), CKR_OK);
    control_.fail(Fn::C_GetTokenInfo, CKR_DEVICE_MEMORY);
    EXPECT_EQ(rv_name(token_info(info)), rv_name(CKR_DEVICE_MEMORY));
    EXPECT_EQ(rv_name(token_info(info)), rv_name(CKR_DEVICE_MEMORY));
    control_.clear_rules();
    EXPECT_EQ(token_info(info), CKR_OK);
}

TEST_F(FaultTokenTest, DelayRuleMakesTheCallTakeAtLeastTheDelay) {
    control_.delay(Fn::C_GetTokenInfo, 150, slot_);
    CK_TOKEN_INFO info{};
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(token_info(info), CKR_OK);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

TEST_F(FaultTokenTest, HangRuleBlocksUntilCleared) {
    control_.hang(Fn::C_GetTokenInfo, slot_);
    std::atomic<bool> finished{false};
    CK_RV rv = CKR_GENERAL_ERROR;
    std::thread caller([&] {
        CK_TOKEN_INFO info{};
        rv = token_info(info);
        finished = true;
    });
    wait_for_calls(control_, Fn::C_GetTokenInfo, 1);
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(finished) << "the call should hang";
    control_.clear_rules();
    caller.join();
    EXPECT_EQ(rv_name(rv), rv_name(CKR_OK));
}

TEST_F(FaultTokenTest, HangEndsWithDeviceRemovedWhenTheTokenIsRemoved) {
    const CK_SESSION_HANDLE session = open_session();
    control_.hang(Fn::C_GenerateRandom, slot_);
    CK_RV rv = CKR_GENERAL_ERROR;
    std::thread caller([&] {
        CK_BYTE random[8];
        rv = p11_->C_GenerateRandom(session, random, sizeof random);
    });
    wait_for_calls(control_, Fn::C_GenerateRandom, 1);
    control_.set_absent(slot_);
    caller.join();
    EXPECT_EQ(rv_name(rv), rv_name(CKR_DEVICE_REMOVED));
}

TEST_F(FaultTokenTest, CrashRuleAbortsTheProcessInsideTheCall) {
    const CK_SESSION_HANDLE session = open_session();
    login(session);
    const CK_OBJECT_HANDLE key = generate_key(session);
    control_.crash(Fn::C_Sign, slot_);
    // The death test's child process runs the call; the rule fires there, never here.
    EXPECT_EXIT(sign(session, key), ::testing::KilledBySignal(SIGABRT), "");
    control_.clear_rules();
    EXPECT_EQ(rv_name(sign(session, key)), rv_name(CKR_OK));
}

TEST_F(FaultTokenTest, PinRetryCounterGoesFromCountLowToLocked) {
    control_.set_max_pin_tries(3);
    const CK_SESSION_HANDLE session = open_session();
    EXPECT_EQ(token_flags() & kPinCounterFlags, 0u);

    EXPECT_EQ(rv_name(login_with(session, "000000")), rv_name(CKR_PIN_INCORRECT));
    EXPECT_EQ(token_flags() & kPinCounterFlags, CKF_USER_PIN_COUNT_LOW);
    EXPECT_EQ(rv_name(login_with(session, "000000")), rv_name(CKR_PIN_INCORRECT));
    EXPECT_EQ(token_flags() & kPinCounterFlags, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
    EXPECT_EQ(rv_name(login_with(session, "000000")), rv_name(CKR_PIN_INCORRECT));
    EXPECT_EQ(token_flags() & kPinCounterFlags, CKF_USER_PIN_LOCKED);

    const std::uint64_t forwarded = control_.forwarded_count(Fn::C_Login);
    EXPECT_EQ(rv_name(login_with(session, SoftHsm::kUserPin)), rv_name(CKR_PIN_LOCKED));
    EXPECT_EQ(control_.forwarded_count(Fn::C_Login), forwarded);
    EXPECT_EQ(control_.count(Fn::C_Login), 4u);
}

TEST_F(FaultTokenTest, CorrectPinResetsTheRetryCounter) {
    control_.set_max_pin_tries(3);
    const CK_SESSION_HANDLE session = open_session();
    EXPECT_EQ(login_with(session, "000000"), CKR_PIN_INCORRECT);
    EXPECT_EQ(login_with(session, "000000"), CKR_PIN_INCORRECT);
    EXPECT_NE(token_flags() & CKF_USER_PIN_FINAL_TRY, 0u);
    login(session);
    EXPECT_EQ(token_flags() & kPinCounterFlags, 0u);
    EXPECT_EQ(p11_->C_Logout(session), CKR_OK);
    EXPECT_EQ(login_with(session, "000000"), CKR_PIN_INCORRECT);
    EXPECT_EQ(token_flags() & kPinCounterFlags, CKF_USER_PIN_COUNT_LOW);
}

TEST_F(FaultTokenTest, PinFlagsAreAddedToTokenInfo) {
    control_.set_pin_flags(CKF_USER_PIN_FINAL_TRY, slot_);
    EXPECT_NE(token_flags() & CKF_USER_PIN_FINAL_TRY, 0u);
    control_.set_pin_flags(CKF_USER_PIN_LOCKED);
    EXPECT_NE(token_flags() & CKF_USER_PIN_LOCKED, 0u);
    control_.set_pin_flags(0, slot_);
    control_.set_pin_flags(0);
    EXPECT_EQ(token_flags() & kPinCounterFlags, 0u);
}

TEST_F(FaultTokenTest, ProtectedAuthenticationPathLogsInWithThePinpadPin) {
    control_.set_pin_flags(CKF_PROTECTED_AUTHENTICATION_PATH, slot_);
    control_.set_pinpad_pin(SoftHsm::kUserPin);
    EXPECT_NE(token_flags() & CKF_PROTECTED_AUTHENTICATION_PATH, 0u);
    const CK_SESSION_HANDLE session = open_session();
    EXPECT_EQ(rv_name(p11_->C_Login(session, CKU_USER, nullptr, 0)), rv_name(CKR_OK));
    EXPECT_EQ(session_state(session), CKS_RW_USER_FUNCTIONS);
}

TEST_F(FaultTokenTest, WrongPinpadPinIsIncorrect) {
    control_.set_pin_flags(CKF_PROTECTED_AUTHENTICATION_PATH);
    control_.set_pinpad_pin("999999");
    const CK_SESSION_HANDLE session = open_session();
    EXPECT_EQ(rv_name(p11_->C_Login(session, CKU_USER, nullptr, 0)), rv_name(CKR_PIN_INCORRECT));
}

TEST_F(FaultTokenTest, CountersCountCallsReceivedAndForwarded) {
    const CK_SESSION_HANDLE session = open_session();
    control_.reset_counts();
    login(session);
    EXPECT_EQ(control_.count(Fn::C_Login), 1u);
    EXPECT_EQ(control_.forwarded_count(Fn::C_Login), 1u);
    EXPECT_EQ(control_.count(Fn::C_OpenSession), 0u);

    CK_FUNCTION_LIST* functions = nullptr;
    EXPECT_EQ(p11_->C_GetFunctionList(&functions), CKR_OK);
    EXPECT_EQ(functions, p11_);
    EXPECT_EQ(control_.count(Fn::C_GetFunctionList), 1u);

    control_.reset_counts();
    EXPECT_EQ(control_.count(Fn::C_Login), 0u);
    EXPECT_EQ(control_.forwarded_count(Fn::C_Login), 0u);
}

TEST_F(FaultTokenTest, SerialOverrideChangesOnlyTheSerial) {
    CK_TOKEN_INFO real{};
    ASSERT_EQ(token_info(real), CKR_OK);
    control_.set_serial(slot_, "OTHERCARD0001");
    CK_TOKEN_INFO info{};
    ASSERT_EQ(token_info(info), CKR_OK);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(info.serialNumber), sizeof info.serialNumber),
              padded("OTHERCARD0001", 16));
    EXPECT_EQ(std::string(reinterpret_cast<char*>(info.label), sizeof info.label),
              padded("faulttoken", 32));

    control_.set_serial(slot_, "");
    ASSERT_EQ(token_info(info), CKR_OK);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(info.serialNumber), sizeof info.serialNumber),
              std::string(reinterpret_cast<char*>(real.serialNumber), sizeof real.serialNumber));
}

TEST_F(FaultTokenTest, ConcurrentCallsSurviveRemovals) {
    constexpr int kThreads = 4;
    constexpr int kCallsPerThread = 3000;
    std::atomic<int> unexpected{0};
    std::atomic<int> removed_calls{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> callers;
    for (int t = 0; t < kThreads; ++t) {
        callers.emplace_back([&] {
            CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
            for (int i = 0; i < kCallsPerThread; ++i) {
                if (session == CK_INVALID_HANDLE) {
                    const CK_RV rv =
                        p11_->C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &session);
                    if (rv != CKR_OK) {
                        unexpected += rv != CKR_TOKEN_NOT_PRESENT;
                        session = CK_INVALID_HANDLE;
                        continue;
                    }
                }
                CK_BYTE random[16];
                const CK_RV rv = p11_->C_GenerateRandom(session, random, sizeof random);
                if (rv == CKR_DEVICE_REMOVED || rv == CKR_SESSION_HANDLE_INVALID) {
                    ++removed_calls;
                    p11_->C_CloseSession(session);
                    session = CK_INVALID_HANDLE;
                } else if (rv != CKR_OK) {
                    ++unexpected;
                }
            }
            if (session != CK_INVALID_HANDLE) {
                p11_->C_CloseSession(session);
            }
        });
    }
    std::thread unplugger([&] {
        while (!stop) {
            control_.set_absent(slot_);
            std::this_thread::sleep_for(200us);
            control_.set_present(slot_);
            std::this_thread::sleep_for(300us);
        }
    });
    for (std::thread& caller : callers) {
        caller.join();
    }
    stop = true;
    unplugger.join();
    EXPECT_EQ(unexpected, 0);
    RecordProperty("calls_hit_by_removal", removed_calls.load());
    control_.set_present(slot_);
    const CK_SESSION_HANDLE session = open_session();
    CK_BYTE random[16];
    EXPECT_EQ(p11_->C_GenerateRandom(session, random, sizeof random), CKR_OK);
}

TEST(FaultTokenNames, FunctionNamesRoundTrip) {
    for (std::size_t i = 0; i < kFunctionCount; ++i) {
        const Fn function = static_cast<Fn>(i);
        EXPECT_EQ(function_id(function_name(function)), function) << function_name(function);
    }
    EXPECT_EQ(kFunctionCount, 68u);
    EXPECT_EQ(function_name(Fn::C_Initialize), "C_Initialize");
    EXPECT_EQ(function_name(Fn::C_GetFunctionList), "C_GetFunctionList");
    EXPECT_EQ(function_name(Fn::C_Login), "C_Login");
    EXPECT_EQ(function_name(Fn::C_Sign), "C_Sign");
    EXPECT_EQ(function_name(Fn::C_DecryptVerifyUpdate), "C_DecryptVerifyUpdate");
    EXPECT_EQ(function_name(Fn::C_WaitForSlotEvent), "C_WaitForSlotEvent");
    EXPECT_EQ(function_id("C_Login"), Fn::C_Login);
    EXPECT_EQ(function_id("C_NoSuchThing"), std::nullopt);
}

TEST(FaultTokenNames, ReturnValuesParse) {
    EXPECT_EQ(parse_rv("CKR_PIN_LOCKED"), CKR_PIN_LOCKED);
    EXPECT_EQ(parse_rv("0x30"), CKR_DEVICE_ERROR);
    EXPECT_EQ(parse_rv("48"), CKR_DEVICE_ERROR);
    EXPECT_EQ(parse_rv("CKR_BOGUS"), std::nullopt);
    EXPECT_EQ(rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED), "CKR_KEY_FUNCTION_NOT_PERMITTED");
}

}  // namespace
}  // namespace attache::faulttoken::testing
