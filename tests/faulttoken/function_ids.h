#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace attache::faulttoken {

// The 68 functions of a PKCS#11 v2.40 CK_FUNCTION_LIST, in the order of that structure.
enum class Fn : std::uint32_t {
    C_Initialize,
    C_Finalize,
    C_GetInfo,
    C_GetFunctionList,
    C_GetSlotList,
    C_GetSlotInfo,
    C_GetTokenInfo,
    C_GetMechanismList,
    C_GetMechanismInfo,
    C_InitToken,
    C_InitPIN,
    C_SetPIN,
    C_OpenSession,
    C_CloseSession,
    C_CloseAllSessions,
    C_GetSessionInfo,
    C_GetOperationState,
    C_SetOperationState,
    C_Login,
    C_Logout,
    C_CreateObject,
    C_CopyObject,
    C_DestroyObject,
    C_GetObjectSize,
    C_GetAttributeValue,
    C_SetAttributeValue,
    C_FindObjectsInit,
    C_FindObjects,
    C_FindObjectsFinal,
    C_EncryptInit,
    C_Encrypt,
    C_EncryptUpdate,
    C_EncryptFinal,
    C_DecryptInit,
    C_Decrypt,
    C_DecryptUpdate,
    C_DecryptFinal,
    C_DigestInit,
    C_Digest,
    C_DigestUpdate,
    C_DigestKey,
    C_DigestFinal,
    C_SignInit,
    C_Sign,
    C_SignUpdate,
    C_SignFinal,
    C_SignRecoverInit,
    C_SignRecover,
    C_VerifyInit,
    C_Verify,
    C_VerifyUpdate,
    C_VerifyFinal,
    C_VerifyRecoverInit,
    C_VerifyRecover,
    C_DigestEncryptUpdate,
    C_DecryptDigestUpdate,
    C_SignEncryptUpdate,
    C_DecryptVerifyUpdate,
    C_GenerateKey,
    C_GenerateKeyPair,
    C_WrapKey,
    C_UnwrapKey,
    C_DeriveKey,
    C_SeedRandom,
    C_GenerateRandom,
    C_GetFunctionStatus,
    C_CancelFunction,
    C_WaitForSlotEvent,
};

// Number of functions in Fn (and of call counters in the control block).
inline constexpr std::size_t kFunctionCount = static_cast<std::size_t>(Fn::C_WaitForSlotEvent) + 1;

// Position of a function in Fn, usable as an array index.
constexpr std::size_t index_of(Fn function) {
    return static_cast<std::size_t>(function);
}

// The function's C name, e.g. "C_Login".
std::string_view function_name(Fn function);

// The function with this C name, e.g. "C_Login"; nullopt for an unknown name.
std::optional<Fn> function_id(std::string_view name);

}  // namespace attache::faulttoken
