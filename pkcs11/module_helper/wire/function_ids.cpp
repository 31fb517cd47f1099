#include "pkcs11/module_helper/wire/function_ids.h"

namespace attache::p11::module_helper {

std::string_view call_name(CallId call) {
    switch (call) {
#define ATTACHE_CALL_NAME(name) \
    case CallId::name:          \
        return #name;
        ATTACHE_CALL_NAME(hello)
        ATTACHE_CALL_NAME(malformed)
        ATTACHE_CALL_NAME(busy)
        ATTACHE_CALL_NAME(C_GetInfo)
        ATTACHE_CALL_NAME(C_GetSlotList)
        ATTACHE_CALL_NAME(C_GetSlotInfo)
        ATTACHE_CALL_NAME(C_GetTokenInfo)
        ATTACHE_CALL_NAME(C_GetMechanismList)
        ATTACHE_CALL_NAME(C_GetMechanismInfo)
        ATTACHE_CALL_NAME(C_InitToken)
        ATTACHE_CALL_NAME(C_InitPIN)
        ATTACHE_CALL_NAME(C_SetPIN)
        ATTACHE_CALL_NAME(C_OpenSession)
        ATTACHE_CALL_NAME(C_CloseSession)
        ATTACHE_CALL_NAME(C_CloseAllSessions)
        ATTACHE_CALL_NAME(C_GetSessionInfo)
        ATTACHE_CALL_NAME(C_Login)
        ATTACHE_CALL_NAME(C_Logout)
        ATTACHE_CALL_NAME(C_CreateObject)
        ATTACHE_CALL_NAME(C_DestroyObject)
        ATTACHE_CALL_NAME(C_GetAttributeValue)
        ATTACHE_CALL_NAME(C_SetAttributeValue)
        ATTACHE_CALL_NAME(C_FindObjectsInit)
        ATTACHE_CALL_NAME(C_FindObjects)
        ATTACHE_CALL_NAME(C_FindObjectsFinal)
        ATTACHE_CALL_NAME(C_SignInit)
        ATTACHE_CALL_NAME(C_Sign)
        ATTACHE_CALL_NAME(C_VerifyInit)
        ATTACHE_CALL_NAME(C_Verify)
        ATTACHE_CALL_NAME(C_DecryptInit)
        ATTACHE_CALL_NAME(C_Decrypt)
        ATTACHE_CALL_NAME(C_EncryptInit)
        ATTACHE_CALL_NAME(C_Encrypt)
        ATTACHE_CALL_NAME(C_GenerateKeyPair)
        ATTACHE_CALL_NAME(C_DeriveKey)
        ATTACHE_CALL_NAME(C_GenerateRandom)
        ATTACHE_CALL_NAME(C_WaitForSlotEvent)
#undef ATTACHE_CALL_NAME
        // Named as the PKCS#11 calls they make, for stop reasons ("killed ... in
        // C_SignInit+C_Sign"): the helper does not say which of the two was running.
        case CallId::SignInitAndSign:
            return "C_SignInit+C_Sign";
        case CallId::DecryptInitAndDecrypt:
            return "C_DecryptInit+C_Decrypt";
    }
    return "unknown call";
}

bool known_call(std::uint16_t value) {
    return value == static_cast<std::uint16_t>(CallId::hello) ||
           value == static_cast<std::uint16_t>(CallId::malformed) ||
           value == static_cast<std::uint16_t>(CallId::busy) ||
           (value >= static_cast<std::uint16_t>(CallId::C_GetInfo) &&
            value <= static_cast<std::uint16_t>(CallId::last));
}

}  // namespace attache::p11::module_helper
