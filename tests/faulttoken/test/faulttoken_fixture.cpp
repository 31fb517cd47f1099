#include "tests/faulttoken/test/faulttoken_fixture.h"

#include <cstdlib>
#include <stdexcept>

#include "tests/faulttoken/rv_names.h"
#include "tests/faulttoken/test/loaded_module.h"

namespace attache::faulttoken::testing {
namespace {

// DER encoding of the OID of the NIST P-256 curve.
const CK_BYTE kP256Params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

}  // namespace

void check(CK_RV rv, const char* call) {
    if (rv != CKR_OK) {
        throw std::runtime_error(std::string(call) + " returned " + rv_name(rv));
    }
}

void FaultTokenTest::SetUp() {
    setenv("ATTACHE_FAULT_CONTROL", (dir_ / "control").c_str(), 1);
    setenv("ATTACHE_FAULT_MODULE", attache::testing::SoftHsm::module_path().c_str(), 1);
    p11_ = faulttoken_functions();
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    ASSERT_EQ(p11_->C_Initialize(&args), CKR_OK);
}

void FaultTokenTest::TearDown() {
    if (p11_) {
        control_.clear_rules();
        EXPECT_EQ(p11_->C_Finalize(nullptr), CKR_OK);
    }
    unsetenv("ATTACHE_FAULT_CONTROL");
}

CK_SESSION_HANDLE FaultTokenTest::open_session() {
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    check(
        p11_->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session),
        "C_OpenSession");
    return session;
}

void FaultTokenTest::login(CK_SESSION_HANDLE session) {
    check(login_with(session, attache::testing::SoftHsm::kUserPin), "C_Login");
}

CK_RV FaultTokenTest::login_with(CK_SESSION_HANDLE session, const std::string& pin) {
    std::string copy = pin;
    return p11_->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(copy.data()),
                         copy.size());
}

CK_OBJECT_HANDLE FaultTokenTest::generate_key(CK_SESSION_HANDLE session) {
    CK_BBOOL yes = CK_TRUE;
    CK_MECHANISM mechanism{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    CK_ATTRIBUTE public_template[] = {
        {CKA_EC_PARAMS, const_cast<CK_BYTE*>(kP256Params), sizeof kP256Params},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_VERIFY, &yes, sizeof yes},
    };
    CK_ATTRIBUTE private_template[] = {
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SIGN, &yes, sizeof yes},
    };
    CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
    check(p11_->C_GenerateKeyPair(session, &mechanism, public_template, 3, private_template, 3,
                                  &public_key, &private_key),
          "C_GenerateKeyPair");
    return private_key;
}

CK_OBJECT_HANDLE FaultTokenTest::find_private_key(CK_SESSION_HANDLE session) {
    CK_OBJECT_CLASS key_class = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE query[] = {{CKA_CLASS, &key_class, sizeof key_class}};
    check(p11_->C_FindObjectsInit(session, query, 1), "C_FindObjectsInit");
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    CK_ULONG found = 0;
    const CK_RV rv = p11_->C_FindObjects(session, &key, 1, &found);
    check(p11_->C_FindObjectsFinal(session), "C_FindObjectsFinal");
    check(rv, "C_FindObjects");
    if (found != 1) {
        throw std::runtime_error("no private key on the token");
    }
    return key;
}

CK_RV FaultTokenTest::sign(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key) {
    CK_MECHANISM mechanism{CKM_ECDSA, nullptr, 0};
    check(p11_->C_SignInit(session, &mechanism, key), "C_SignInit");
    CK_BYTE digest[32] = {1, 2, 3, 4};
    CK_BYTE signature[64];
    CK_ULONG signature_length = sizeof signature;
    return p11_->C_Sign(session, digest, sizeof digest, signature, &signature_length);
}

CK_RV FaultTokenTest::token_info(CK_TOKEN_INFO& info) {
    return p11_->C_GetTokenInfo(slot_, &info);
}

CK_FLAGS FaultTokenTest::token_flags() {
    CK_TOKEN_INFO info{};
    check(token_info(info), "C_GetTokenInfo");
    return info.flags;
}

std::vector<CK_SLOT_ID> FaultTokenTest::slot_list(bool token_present) {
    const CK_BBOOL present = token_present ? CK_TRUE : CK_FALSE;
    CK_ULONG count = 0;
    check(p11_->C_GetSlotList(present, nullptr, &count), "C_GetSlotList");
    std::vector<CK_SLOT_ID> slots(count);
    check(p11_->C_GetSlotList(present, slots.data(), &count), "C_GetSlotList");
    slots.resize(count);
    return slots;
}

CK_STATE FaultTokenTest::session_state(CK_SESSION_HANDLE session) {
    CK_SESSION_INFO info{};
    check(p11_->C_GetSessionInfo(session, &info), "C_GetSessionInfo");
    return info.state;
}

}  // namespace attache::faulttoken::testing
