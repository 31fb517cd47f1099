// The exported PKCS#11 API of attache-pkcs11.so: C_GetFunctionList and the functions of its
// table. Each forwards to the C++ Module and catches everything at the boundary; nothing
// else lives in this file.

#include <p11-kit/pkcs11.h>

#include "pkcs11/forwarding/c_boundary.h"
#include "pkcs11/forwarding/globals.h"
#include "pkcs11/forwarding/identity.h"

using attache::forwarding::at_c_boundary;
using attache::forwarding::current_module;

namespace {

// Runs fn(Module&) when the module is initialised.
template <typename Fn>
CK_RV with_module(Fn&& fn) noexcept {
    return at_c_boundary([&]() -> CK_RV {
        auto m = current_module();
        if (!m)
            return CKR_CRYPTOKI_NOT_INITIALIZED;
        return fn(*m);
    });
}

// Functions that create, change, copy, wrap or destroy keys, initialise the token or set
// PINs: enrolment is the admin CLI's job, never an application's.
CK_RV refused(CK_SESSION_HANDLE session, CK_RV rv) noexcept {
    return with_module([&](auto& m) { return m.refuse(session, rv); });
}

CK_RV not_supported() noexcept {
    return with_module([](auto&) { return CKR_FUNCTION_NOT_SUPPORTED; });
}

}  // namespace

namespace attache::forwarding::entry {
namespace {

CK_RV get_function_list(CK_FUNCTION_LIST_PTR_PTR list);

CK_RV C_Initialize(CK_VOID_PTR init_args) {
    return at_c_boundary([&] { return attache::forwarding::initialize(init_args); });
}

CK_RV C_Finalize(CK_VOID_PTR reserved) {
    return at_c_boundary([&] { return attache::forwarding::finalize(reserved); });
}

CK_RV C_GetInfo(CK_INFO_PTR info) {
    return with_module([&](auto&) -> CK_RV {
        if (info == nullptr)
            return CKR_ARGUMENTS_BAD;
        *info = CK_INFO{};
        info->cryptokiVersion = {2, 40};
        attache::forwarding::pad_field(std::string(attache::forwarding::kManufacturer),
                                       info->manufacturerID, sizeof info->manufacturerID);
        info->flags = 0;
        attache::forwarding::pad_field("attache-agent forwarding module", info->libraryDescription,
                                       sizeof info->libraryDescription);
        info->libraryVersion = {0, 1};
        return CKR_OK;
    });
}

CK_RV C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
    return with_module([&](auto& m) { return m.get_slot_list(token_present, list, count); });
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
    return with_module([&](auto& m) { return m.get_slot_info(slot, info); });
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
    return with_module([&](auto& m) { return m.get_token_info(slot, info); });
}

CK_RV C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
    return with_module([&](auto& m) { return m.get_mechanism_list(slot, list, count); });
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info) {
    return with_module([&](auto& m) { return m.get_mechanism_info(slot, type, info); });
}

CK_RV C_InitToken(CK_SLOT_ID, CK_UTF8CHAR_PTR, CK_ULONG, CK_UTF8CHAR_PTR) {
    return not_supported();
}

CK_RV C_InitPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR, CK_ULONG) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_SetPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR, CK_ULONG, CK_UTF8CHAR_PTR, CK_ULONG) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR, CK_NOTIFY,
                    CK_SESSION_HANDLE_PTR session) {
    return with_module([&](auto& m) { return m.open_session(slot, flags, session); });
}

CK_RV C_CloseSession(CK_SESSION_HANDLE session) {
    return with_module([&](auto& m) { return m.close_session(session); });
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slot) {
    return with_module([&](auto& m) { return m.close_all_sessions(slot); });
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE session, CK_SESSION_INFO_PTR info) {
    return with_module([&](auto& m) { return m.get_session_info(session, info); });
}

CK_RV C_GetOperationState(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG_PTR) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_SetOperationState(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_OBJECT_HANDLE,
                          CK_OBJECT_HANDLE) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
    return with_module([&](auto& m) { return m.login(session, user, pin, pin_len); });
}

CK_RV C_Logout(CK_SESSION_HANDLE session) {
    return with_module([&](auto& m) { return m.logout(session); });
}

CK_RV C_CreateObject(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_CopyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR templ,
                   CK_ULONG count, CK_OBJECT_HANDLE_PTR new_object) {
    return with_module(
        [&](auto& m) { return m.refuse_change(session, object, templ, count, true, new_object); });
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
    return with_module([&](auto& m) { return m.destroy_object(session, object); });
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ULONG_PTR size) {
    return with_module([&](auto& m) { return m.get_object_size(session, object, size); });
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                          CK_ATTRIBUTE_PTR templ, CK_ULONG count) {
    return with_module(
        [&](auto& m) { return m.get_attribute_value(session, object, templ, count); });
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                          CK_ATTRIBUTE_PTR templ, CK_ULONG count) {
    return with_module(
        [&](auto& m) { return m.refuse_change(session, object, templ, count, false, nullptr); });
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR templ, CK_ULONG count) {
    return with_module([&](auto& m) { return m.find_objects_init(session, templ, count); });
}

CK_RV C_FindObjects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max,
                    CK_ULONG_PTR count) {
    return with_module([&](auto& m) { return m.find_objects(session, objects, max, count); });
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE session) {
    return with_module([&](auto& m) { return m.find_objects_final(session); });
}

CK_RV C_EncryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_Encrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_EncryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_EncryptFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_DecryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
    return with_module([&](auto& m) { return m.decrypt_init(session, mechanism, key); });
}

CK_RV C_Decrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len) {
    return with_module([&](auto& m) { return m.decrypt(session, data, data_len, out, out_len); });
}

CK_RV C_DecryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
    return with_module([&](auto& m) { return m.decrypt_update(session); });
}

CK_RV C_DecryptFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG_PTR) {
    return with_module([&](auto& m) { return m.decrypt_update(session); });
}

CK_RV C_DigestInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_Digest(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_DigestKey(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_SignInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
    return with_module([&](auto& m) { return m.sign_init(session, mechanism, key); });
}

CK_RV C_Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR signature,
             CK_ULONG_PTR signature_len) {
    return with_module(
        [&](auto& m) { return m.sign(session, data, data_len, signature, signature_len); });
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len) {
    return with_module([&](auto& m) { return m.sign_update(session, part, part_len); });
}

CK_RV C_SignFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR signature, CK_ULONG_PTR signature_len) {
    return with_module([&](auto& m) { return m.sign_final(session, signature, signature_len); });
}

CK_RV C_SignRecoverInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_SignRecover(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
    return with_module([&](auto& m) { return m.verify_init(session, mechanism, key); });
}

CK_RV C_Verify(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
               CK_BYTE_PTR signature, CK_ULONG signature_len) {
    return with_module(
        [&](auto& m) { return m.verify(session, data, data_len, signature, signature_len); });
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len) {
    return with_module([&](auto& m) { return m.verify_update(session, part, part_len); });
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR signature, CK_ULONG signature_len) {
    return with_module([&](auto& m) { return m.verify_final(session, signature, signature_len); });
}

CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_VerifyRecover(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                            CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                            CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                          CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                            CK_ULONG_PTR) {
    return refused(session, CKR_OPERATION_NOT_INITIALIZED);
}

CK_RV C_GenerateKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR, CK_ULONG,
                    CK_OBJECT_HANDLE_PTR) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR, CK_ULONG,
                        CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR, CK_OBJECT_HANDLE_PTR) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_WrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE,
                CK_BYTE_PTR, CK_ULONG_PTR) {
    return refused(session, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key,
                  CK_BYTE_PTR wrapped, CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                  CK_OBJECT_HANDLE_PTR out) {
    return with_module([&](auto& m) {
        return m.unwrap_key(session, mechanism, key, wrapped, wrapped_len, templ, count, out);
    });
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE base,
                  CK_ATTRIBUTE_PTR templ, CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
    return with_module(
        [&](auto& m) { return m.derive_key(session, mechanism, base, templ, count, key); });
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG) {
    return refused(session, CKR_RANDOM_SEED_NOT_SUPPORTED);
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG len) {
    return with_module([&](auto& m) { return m.generate_random(session, out, len); });
}

CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE session) {
    return refused(session, CKR_FUNCTION_NOT_PARALLEL);
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE session) {
    return refused(session, CKR_FUNCTION_NOT_PARALLEL);
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved) {
    return with_module([&](auto& m) -> CK_RV {
        if (reserved != nullptr)
            return CKR_ARGUMENTS_BAD;
        return m.wait_for_slot_event(flags, slot);
    });
}

CK_FUNCTION_LIST g_function_list = {
    {2, 40},
    C_Initialize,
    C_Finalize,
    C_GetInfo,
    // Not ::C_GetFunctionList: a host that also links libp11-kit would interpose p11-kit's.
    get_function_list,
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

CK_RV get_function_list(CK_FUNCTION_LIST_PTR_PTR list) {
    if (list == nullptr)
        return CKR_ARGUMENTS_BAD;
    *list = &g_function_list;
    return CKR_OK;
}

}  // namespace
}  // namespace attache::forwarding::entry

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(
    CK_FUNCTION_LIST_PTR_PTR list) {
    return attache::forwarding::entry::get_function_list(list);
}
