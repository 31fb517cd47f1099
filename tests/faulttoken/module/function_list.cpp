// The module's CK_FUNCTION_LIST and its one exported symbol, C_GetFunctionList.

#include <p11-kit/pkcs11.h>

#include "tests/faulttoken/module/c_boundary.h"
#include "tests/faulttoken/module/control_attachment.h"
#include "tests/faulttoken/module/generic_calls.h"
#include "tests/faulttoken/module/special_calls.h"

namespace attache::faulttoken {
namespace {

template <Fn F, auto Member>
constexpr auto kCall = &GenericCall<F, Member>::call;

template <Fn F, auto Member>
constexpr auto kTokenCall = &GenericTokenCall<F, Member>::call;

template <Fn F, auto Member>
constexpr auto kSessionCall = &GenericSessionCall<F, Member>::call;

using L = CK_FUNCTION_LIST;

CK_RV get_function_list(CK_FUNCTION_LIST_PTR_PTR function_list) noexcept;

CK_FUNCTION_LIST module_functions = {
    .version = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR},
    .C_Initialize = &special::initialize,
    .C_Finalize = &special::finalize,
    .C_GetInfo = kCall<Fn::C_GetInfo, &L::C_GetInfo>,
    // Not &::C_GetFunctionList: a host that also links libp11-kit would interpose p11-kit's.
    .C_GetFunctionList = &get_function_list,
    .C_GetSlotList = &special::get_slot_list,
    .C_GetSlotInfo = &special::get_slot_info,
    .C_GetTokenInfo = &special::get_token_info,
    .C_GetMechanismList = kTokenCall<Fn::C_GetMechanismList, &L::C_GetMechanismList>,
    .C_GetMechanismInfo = kTokenCall<Fn::C_GetMechanismInfo, &L::C_GetMechanismInfo>,
    .C_InitToken = kTokenCall<Fn::C_InitToken, &L::C_InitToken>,
    .C_InitPIN = &special::init_pin,
    .C_SetPIN = kSessionCall<Fn::C_SetPIN, &L::C_SetPIN>,
    .C_OpenSession = &special::open_session,
    .C_CloseSession = &special::close_session,
    .C_CloseAllSessions = &special::close_all_sessions,
    .C_GetSessionInfo = kSessionCall<Fn::C_GetSessionInfo, &L::C_GetSessionInfo>,
    .C_GetOperationState = kSessionCall<Fn::C_GetOperationState, &L::C_GetOperationState>,
    .C_SetOperationState = kSessionCall<Fn::C_SetOperationState, &L::C_SetOperationState>,
    .C_Login = &special::login,
    .C_Logout = kSessionCall<Fn::C_Logout, &L::C_Logout>,
    .C_CreateObject = kSessionCall<Fn::C_CreateObject, &L::C_CreateObject>,
    .C_CopyObject = kSessionCall<Fn::C_CopyObject, &L::C_CopyObject>,
    .C_DestroyObject = kSessionCall<Fn::C_DestroyObject, &L::C_DestroyObject>,
    .C_GetObjectSize = kSessionCall<Fn::C_GetObjectSize, &L::C_GetObjectSize>,
    .C_GetAttributeValue = kSessionCall<Fn::C_GetAttributeValue, &L::C_GetAttributeValue>,
    .C_SetAttributeValue = kSessionCall<Fn::C_SetAttributeValue, &L::C_SetAttributeValue>,
    .C_FindObjectsInit = kSessionCall<Fn::C_FindObjectsInit, &L::C_FindObjectsInit>,
    .C_FindObjects = kSessionCall<Fn::C_FindObjects, &L::C_FindObjects>,
    .C_FindObjectsFinal = kSessionCall<Fn::C_FindObjectsFinal, &L::C_FindObjectsFinal>,
    .C_EncryptInit = kSessionCall<Fn::C_EncryptInit, &L::C_EncryptInit>,
    .C_Encrypt = kSessionCall<Fn::C_Encrypt, &L::C_Encrypt>,
    .C_EncryptUpdate = kSessionCall<Fn::C_EncryptUpdate, &L::C_EncryptUpdate>,
    .C_EncryptFinal = kSessionCall<Fn::C_EncryptFinal, &L::C_EncryptFinal>,
    .C_DecryptInit = kSessionCall<Fn::C_DecryptInit, &L::C_DecryptInit>,
    .C_Decrypt = kSessionCall<Fn::C_Decrypt, &L::C_Decrypt>,
    .C_DecryptUpdate = kSessionCall<Fn::C_DecryptUpdate, &L::C_DecryptUpdate>,
    .C_DecryptFinal = kSessionCall<Fn::C_DecryptFinal, &L::C_DecryptFinal>,
    .C_DigestInit = kSessionCall<Fn::C_DigestInit, &L::C_DigestInit>,
    .C_Digest = kSessionCall<Fn::C_Digest, &L::C_Digest>,
    .C_DigestUpdate = kSessionCall<Fn::C_DigestUpdate, &L::C_DigestUpdate>,
    .C_DigestKey = kSessionCall<Fn::C_DigestKey, &L::C_DigestKey>,
    .C_DigestFinal = kSessionCall<Fn::C_DigestFinal, &L::C_DigestFinal>,
    .C_SignInit = kSessionCall<Fn::C_SignInit, &L::C_SignInit>,
    .C_Sign = kSessionCall<Fn::C_Sign, &L::C_Sign>,
    .C_SignUpdate = kSessionCall<Fn::C_SignUpdate, &L::C_SignUpdate>,
    .C_SignFinal = kSessionCall<Fn::C_SignFinal, &L::C_SignFinal>,
    .C_SignRecoverInit = kSessionCall<Fn::C_SignRecoverInit, &L::C_SignRecoverInit>,
    .C_SignRecover = kSessionCall<Fn::C_SignRecover, &L::C_SignRecover>,
    .C_VerifyInit = kSessionCall<Fn::C_VerifyInit, &L::C_VerifyInit>,
    .C_Verify = kSessionCall<Fn::C_Verify, &L::C_Verify>,
    .C_VerifyUpdate = kSessionCall<Fn::C_VerifyUpdate, &L::C_VerifyUpdate>,
    .C_VerifyFinal = kSessionCall<Fn::C_VerifyFinal, &L::C_VerifyFinal>,
    .C_VerifyRecoverInit = kSessionCall<Fn::C_VerifyRecoverInit, &L::C_VerifyRecoverInit>,
    .C_VerifyRecover = kSessionCall<Fn::C_VerifyRecover, &L::C_VerifyRecover>,
    .C_DigestEncryptUpdate = kSessionCall<Fn::C_DigestEncryptUpdate, &L::C_DigestEncryptUpdate>,
    .C_DecryptDigestUpdate = kSessionCall<Fn::C_DecryptDigestUpdate, &L::C_DecryptDigestUpdate>,
    .C_SignEncryptUpdate = kSessionCall<Fn::C_SignEncryptUpdate, &L::C_SignEncryptUpdate>,
    .C_DecryptVerifyUpdate = kSessionCall<Fn::C_DecryptVerifyUpdate, &L::C_DecryptVerifyUpdate>,
    .C_GenerateKey = kSessionCall<Fn::C_GenerateKey, &L::C_GenerateKey>,
    .C_GenerateKeyPair = kSessionCall<Fn::C_GenerateKeyPair, &L::C_GenerateKeyPair>,
    .C_WrapKey = kSessionCall<Fn::C_WrapKey, &L::C_WrapKey>,
    .C_UnwrapKey = kSessionCall<Fn::C_UnwrapKey, &L::C_UnwrapKey>,
    .C_DeriveKey = kSessionCall<Fn::C_DeriveKey, &L::C_DeriveKey>,
    .C_SeedRandom = kSessionCall<Fn::C_SeedRandom, &L::C_SeedRandom>,
    .C_GenerateRandom = kSessionCall<Fn::C_GenerateRandom, &L::C_GenerateRandom>,
    .C_GetFunctionStatus = kSessionCall<Fn::C_GetFunctionStatus, &L::C_GetFunctionStatus>,
    .C_CancelFunction = kSessionCall<Fn::C_CancelFunction, &L::C_CancelFunction>,
    .C_WaitForSlotEvent = kCall<Fn::C_WaitForSlotEvent, &L::C_WaitForSlotEvent>,
};

// Also picks up ATTACHE_FAULT_CONTROL (again at every C_Initialize) so that this call is counted.
CK_RV get_function_list(CK_FUNCTION_LIST_PTR_PTR function_list) noexcept {
    return at_c_boundary([&] {
        try {
            attach_control_from_environment();
        } catch (const RvError&) {
            // Reported on stderr already; C_Initialize will fail on the same file.
        }
        if (ControlBlock* control = current_control()) {
            control->calls[index_of(Fn::C_GetFunctionList)].fetch_add(1);
        }
        if (function_list == nullptr) {
            return static_cast<CK_RV>(CKR_ARGUMENTS_BAD);
        }
        *function_list = &module_functions;
        return static_cast<CK_RV>(CKR_OK);
    });
}

}  // namespace
}  // namespace attache::faulttoken

// The module's only exported symbol.
extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(
    CK_FUNCTION_LIST_PTR_PTR function_list) {
    return attache::faulttoken::get_function_list(function_list);
}
