#pragma once

// The calls the helper protocol carries: the PKCS#11 functions Attache uses, plus the helper's
// own hello and "malformed request" answers. The number is the frame's function id.

#include <cstdint>
#include <string_view>

namespace attache::p11::module_helper {

enum class CallId : std::uint16_t {
    hello = 1,      // helper -> agent once, after C_Initialize: rv, message
    malformed = 2,  // helper -> agent: the request did not decode (CKR_GENERAL_ERROR)
    busy = 3,       // helper -> agent: kMaxInFlight calls running (CKR_FUNCTION_FAILED)
    C_GetInfo = 10,
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
    C_Login,
    C_Logout,
    C_CreateObject,
    C_DestroyObject,
    C_GetAttributeValue,
    C_SetAttributeValue,
    C_FindObjectsInit,
    C_FindObjects,
    C_FindObjectsFinal,
    C_SignInit,
    C_Sign,
    C_VerifyInit,
    C_Verify,
    C_DecryptInit,
    C_Decrypt,
    C_EncryptInit,
    C_Encrypt,
    C_GenerateKeyPair,
    C_DeriveKey,
    C_GenerateRandom,
    C_WaitForSlotEvent,
    // Attache's own: the Init call and, only when it returned CKR_OK, the single-part call, in
    // one round trip. Reply: rv, the stage rv belongs to (CallStage), the output when rv is the
    // single-part call's.
    SignInitAndSign,
    DecryptInitAndDecrypt,
    last = DecryptInitAndDecrypt,
};

// Which call of a combined call (SignInitAndSign, ...) its rv belongs to.
enum class CallStage : std::uint8_t {
    init = 0,       // C_SignInit / C_DecryptInit failed; nothing else was called
    operation = 1,  // C_SignInit returned CKR_OK; rv and the output are C_Sign's
};

// "C_Sign", ..., "C_SignInit+C_Sign" (SignInitAndSign); "unknown call" for a number outside the
// enum.
std::string_view call_name(CallId call);
bool known_call(std::uint16_t value);

}  // namespace attache::p11::module_helper
