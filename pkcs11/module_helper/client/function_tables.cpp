#include "pkcs11/module_helper/client/function_tables.h"

#include <array>
#include <mutex>
#include <utility>

#include "pkcs11/module_helper/client/client_calls.h"

namespace attache::p11::module_helper {
namespace {

struct TableBinding {
    std::mutex mutex;
    std::shared_ptr<CallChannel> channel;
    bool claimed = false;
};

// Never destroyed: a call may still run on another thread while the process exits.
std::array<TableBinding, kMaxHelpers>& bindings() {
    static auto* b = new std::array<TableBinding, kMaxHelpers>;
    return *b;
}

std::shared_ptr<CallChannel> channel_of(size_t index) {
    TableBinding& b = bindings()[index];
    std::lock_guard lock(b.mutex);
    return b.channel;
}

template <size_t N, auto F>
struct Trampoline;

template <size_t N, typename... A, CK_RV (*F)(CallChannel&, A...)>
struct Trampoline<N, F> {
    static CK_RV call(A... args) {
        const std::shared_ptr<CallChannel> channel = channel_of(N);
        if (!channel)
            return CKR_DEVICE_ERROR;
        return F(*channel, args...);
    }
};

template <typename Fn>
struct Unsupported;

template <typename... A>
struct Unsupported<CK_RV (*)(A...)> {
    static CK_RV call(A...) { return CKR_FUNCTION_NOT_SUPPORTED; }
};

template <size_t N>
CK_RV get_function_list(CK_FUNCTION_LIST_PTR_PTR out) {
    if (out == nullptr)
        return CKR_ARGUMENTS_BAD;
    *out = function_table(N);
    return CKR_OK;
}

// clang-format off
// Every field of CK_FUNCTION_LIST (PKCS#11 2.40), in order.
#define ATTACHE_ALL_PKCS11_FUNCTIONS(X) \
    X(C_Initialize) \
    X(C_Finalize) \
    X(C_GetInfo) \
    X(C_GetFunctionList) \
    X(C_GetSlotList) \
    X(C_GetSlotInfo) \
    X(C_GetTokenInfo) \
    X(C_GetMechanismList) \
    X(C_GetMechanismInfo) \
    X(C_InitToken) \
    X(C_InitPIN) \
    X(C_SetPIN) \
    X(C_OpenSession) \
    X(C_CloseSession) \
    X(C_CloseAllSessions) \
    X(C_GetSessionInfo) \
    X(C_GetOperationState) \
    X(C_SetOperationState) \
    X(C_Login) \
    X(C_Logout) \
    X(C_CreateObject) \
    X(C_CopyObject) \
    X(C_DestroyObject) \
    X(C_GetObjectSize) \
    X(C_GetAttributeValue) \
    X(C_SetAttributeValue) \
    X(C_FindObjectsInit) \
    X(C_FindObjects) \
    X(C_FindObjectsFinal) \
    X(C_EncryptInit) \
    X(C_Encrypt) \
    X(C_EncryptUpdate) \
    X(C_EncryptFinal) \
    X(C_DecryptInit) \
    X(C_Decrypt) \
    X(C_DecryptUpdate) \
    X(C_DecryptFinal) \
    X(C_DigestInit) \
    X(C_Digest) \
    X(C_DigestUpdate) \
    X(C_DigestKey) \
    X(C_DigestFinal) \
    X(C_SignInit) \
    X(C_Sign) \
    X(C_SignUpdate) \
    X(C_SignFinal) \
    X(C_SignRecoverInit) \
    X(C_SignRecover) \
    X(C_VerifyInit) \
    X(C_Verify) \
    X(C_VerifyUpdate) \
    X(C_VerifyFinal) \
    X(C_VerifyRecoverInit) \
    X(C_VerifyRecover) \
    X(C_DigestEncryptUpdate) \
    X(C_DecryptDigestUpdate) \
    X(C_SignEncryptUpdate) \
    X(C_DecryptVerifyUpdate) \
    X(C_GenerateKey) \
    X(C_GenerateKeyPair) \
    X(C_WrapKey) \
    X(C_UnwrapKey) \
    X(C_DeriveKey) \
    X(C_SeedRandom) \
    X(C_GenerateRandom) \
    X(C_GetFunctionStatus) \
    X(C_CancelFunction) \
    X(C_WaitForSlotEvent)
// clang-format on

template <size_t N>
CK_FUNCTION_LIST make_table() {
    CK_FUNCTION_LIST t{};
    t.version = {2, 40};
#define ATTACHE_UNSUPPORTED(name) t.name = &Unsupported<decltype(t.name)>::call;
    ATTACHE_ALL_PKCS11_FUNCTIONS(ATTACHE_UNSUPPORTED)
#undef ATTACHE_UNSUPPORTED
    t.C_GetFunctionList = &get_function_list<N>;
#define ATTACHE_BIND(name, impl) t.name = &Trampoline<N, &client_calls::impl>::call;
    ATTACHE_BIND(C_Initialize, initialize)
    ATTACHE_BIND(C_Finalize, finalize)
    ATTACHE_BIND(C_GetInfo, get_info)
    ATTACHE_BIND(C_GetSlotList, get_slot_list)
    ATTACHE_BIND(C_GetSlotInfo, get_slot_info)
    ATTACHE_BIND(C_GetTokenInfo, get_token_info)
    ATTACHE_BIND(C_GetMechanismList, get_mechanism_list)
    ATTACHE_BIND(C_GetMechanismInfo, get_mechanism_info)
    ATTACHE_BIND(C_InitToken, init_token)
    ATTACHE_BIND(C_InitPIN, init_pin)
    ATTACHE_BIND(C_SetPIN, set_pin)
    ATTACHE_BIND(C_OpenSession, open_session)
    ATTACHE_BIND(C_CloseSession, close_session)
    ATTACHE_BIND(C_CloseAllSessions, close_all_sessions)
    ATTACHE_BIND(C_GetSessionInfo, get_session_info)
    ATTACHE_BIND(C_Login, login)
    ATTACHE_BIND(C_Logout, logout)
    ATTACHE_BIND(C_CreateObject, create_object)
    ATTACHE_BIND(C_DestroyObject, destroy_object)
    ATTACHE_BIND(C_GetAttributeValue, get_attribute_value)
    ATTACHE_BIND(C_SetAttributeValue, set_attribute_value)
    ATTACHE_BIND(C_FindObjectsInit, find_objects_init)
    ATTACHE_BIND(C_FindObjects, find_objects)
    ATTACHE_BIND(C_FindObjectsFinal, find_objects_final)
    ATTACHE_BIND(C_SignInit, sign_init)
    ATTACHE_BIND(C_Sign, sign)
    ATTACHE_BIND(C_VerifyInit, verify_init)
    ATTACHE_BIND(C_Verify, verify)
    ATTACHE_BIND(C_DecryptInit, decrypt_init)
    ATTACHE_BIND(C_Decrypt, decrypt)
    ATTACHE_BIND(C_EncryptInit, encrypt_init)
    ATTACHE_BIND(C_Encrypt, encrypt)
    ATTACHE_BIND(C_GenerateKeyPair, generate_key_pair)
    ATTACHE_BIND(C_DeriveKey, derive_key)
    ATTACHE_BIND(C_GenerateRandom, generate_random)
    ATTACHE_BIND(C_WaitForSlotEvent, wait_for_slot_event)
#undef ATTACHE_BIND
    return t;
}

template <size_t... N>
std::array<CK_FUNCTION_LIST, kMaxHelpers>& tables_for(std::index_sequence<N...>) {
    static auto* tables = new std::array<CK_FUNCTION_LIST, kMaxHelpers>{make_table<N>()...};
    return *tables;
}

std::array<CK_FUNCTION_LIST, kMaxHelpers>& tables() {
    return tables_for(std::make_index_sequence<kMaxHelpers>());
}

}  // namespace

std::optional<size_t> claim_function_table(std::shared_ptr<CallChannel> channel) {
    for (size_t i = 0; i < kMaxHelpers; ++i) {
        TableBinding& b = bindings()[i];
        std::lock_guard lock(b.mutex);
        if (!b.claimed) {
            b.claimed = true;
            b.channel = std::move(channel);
            return i;
        }
    }
    return std::nullopt;
}

void release_function_table(size_t index) {
    std::shared_ptr<CallChannel> last;
    TableBinding& b = bindings()[index];
    std::lock_guard lock(b.mutex);
    last = std::move(b.channel);
    b.claimed = false;
}

CK_FUNCTION_LIST* function_table(size_t index) {
    return &tables()[index];
}

}  // namespace attache::p11::module_helper
