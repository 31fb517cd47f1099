#include "tests/fuzz/helper_stub_module.h"

#include <cstring>

#include "pkcs11/module_helper/wire/template_codec.h"

namespace attache::fuzz {
namespace {

volatile unsigned char g_sink;

void touch(const void* data, CK_ULONG size) {
    const auto* p = static_cast<const unsigned char*>(data);
    unsigned char acc = 0;
    for (CK_ULONG i = 0; data != nullptr && i < size; ++i)
        acc ^= p[i];
    g_sink = acc;
}

void touch_template(const CK_ATTRIBUTE* attrs, CK_ULONG count) {
    for (CK_ULONG i = 0; attrs != nullptr && i < count; ++i) {
        if (p11::module_helper::is_nested_template(attrs[i].type) && attrs[i].pValue != nullptr)
            touch_template(static_cast<const CK_ATTRIBUTE*>(attrs[i].pValue),
                           attrs[i].ulValueLen / sizeof(CK_ATTRIBUTE));
        else
            touch(attrs[i].pValue, attrs[i].ulValueLen);
    }
}

void touch_mechanism(const CK_MECHANISM* m) {
    if (m == nullptr)
        return;
    touch(m->pParameter, m->ulParameterLen);
    if (m->pParameter == nullptr)
        return;
    if (m->mechanism == CKM_RSA_PKCS_OAEP && m->ulParameterLen == sizeof(CK_RSA_PKCS_OAEP_PARAMS)) {
        const auto* p = static_cast<const CK_RSA_PKCS_OAEP_PARAMS*>(m->pParameter);
        touch(p->pSourceData, p->ulSourceDataLen);
    }
    if (m->mechanism == CKM_ECDH1_DERIVE && m->ulParameterLen == sizeof(CK_ECDH1_DERIVE_PARAMS)) {
        const auto* p = static_cast<const CK_ECDH1_DERIVE_PARAMS*>(m->pParameter);
        touch(p->pSharedData, p->ulSharedDataLen);
        touch(p->pPublicData, p->ulPublicDataLen);
    }
}

// PKCS#11's output convention for `need` bytes (or items of `item` bytes).
CK_RV fill(void* out, CK_ULONG_PTR len, CK_ULONG need, size_t item = 1) {
    if (len == nullptr)
        return CKR_ARGUMENTS_BAD;
    if (out == nullptr) {
        *len = need;
        return CKR_OK;
    }
    if (*len < need) {
        *len = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    std::memset(out, 0x5a, need * item);
    *len = need;
    return CKR_OK;
}

CK_RV ok_void(CK_VOID_PTR) {
    return CKR_OK;
}
CK_RV get_info(CK_INFO_PTR info) {
    *info = CK_INFO{};
    return CKR_OK;
}
CK_RV get_slot_list(CK_BBOOL, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
    return fill(list, count, 3, sizeof(CK_SLOT_ID));
}
CK_RV get_slot_info(CK_SLOT_ID, CK_SLOT_INFO_PTR info) {
    *info = CK_SLOT_INFO{};
    return CKR_OK;
}
CK_RV get_token_info(CK_SLOT_ID, CK_TOKEN_INFO_PTR info) {
    *info = CK_TOKEN_INFO{};
    return CKR_OK;
}
CK_RV get_mechanism_list(CK_SLOT_ID, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
    return fill(list, count, 5, sizeof(CK_MECHANISM_TYPE));
}
CK_RV get_mechanism_info(CK_SLOT_ID, CK_MECHANISM_TYPE, CK_MECHANISM_INFO_PTR info) {
    *info = CK_MECHANISM_INFO{};
    return CKR_OK;
}
CK_RV init_token(CK_SLOT_ID, CK_UTF8CHAR_PTR pin, CK_ULONG len, CK_UTF8CHAR_PTR label) {
    touch(pin, len);
    touch(label, 32);
    return CKR_OK;
}
CK_RV init_pin(CK_SESSION_HANDLE, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
    touch(pin, len);
    return CKR_OK;
}
CK_RV set_pin(CK_SESSION_HANDLE, CK_UTF8CHAR_PTR a, CK_ULONG al, CK_UTF8CHAR_PTR b, CK_ULONG bl) {
    touch(a, al);
    touch(b, bl);
    return CKR_OK;
}
CK_RV open_session(CK_SLOT_ID, CK_FLAGS, CK_VOID_PTR, CK_NOTIFY, CK_SESSION_HANDLE_PTR s) {
    *s = 7;
    return CKR_OK;
}
CK_RV session_only(CK_SESSION_HANDLE) {
    return CKR_OK;
}
CK_RV slot_only(CK_SLOT_ID) {
    return CKR_OK;
}
CK_RV get_session_info(CK_SESSION_HANDLE, CK_SESSION_INFO_PTR info) {
    *info = CK_SESSION_INFO{};
    return CKR_OK;
}
CK_RV login(CK_SESSION_HANDLE, CK_USER_TYPE, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
    touch(pin, len);
    return CKR_OK;
}
CK_RV create_object(CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR o) {
    touch_template(t, n);
    *o = 9;
    return CKR_OK;
}
CK_RV destroy_object(CK_SESSION_HANDLE, CK_OBJECT_HANDLE) {
    return CKR_OK;
}
CK_RV get_attribute_value(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
    CK_RV rv = CKR_OK;
    for (CK_ULONG i = 0; t != nullptr && i < n; ++i) {
        if (t[i].pValue == nullptr) {
            t[i].ulValueLen = 4;
        } else if (t[i].ulValueLen < 4) {
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            std::memset(t[i].pValue, 0x33, 4);
            t[i].ulValueLen = 4;
        }
    }
    return rv;
}
CK_RV set_attribute_value(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
    touch_template(t, n);
    return CKR_OK;
}
CK_RV find_objects_init(CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
    touch_template(t, n);
    return CKR_OK;
}
CK_RV find_objects(CK_SESSION_HANDLE, CK_OBJECT_HANDLE_PTR found, CK_ULONG max,
                   CK_ULONG_PTR count) {
    *count = max < 2 ? max : 2;
    for (CK_ULONG i = 0; i < *count; ++i)
        found[i] = 100 + i;
    return CKR_OK;
}
CK_RV op_init(CK_SESSION_HANDLE, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE) {
    touch_mechanism(m);
    return CKR_OK;
}
CK_RV one_shot(CK_SESSION_HANDLE, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
               CK_ULONG_PTR out_len) {
    touch(in, in_len);
    return fill(out, out_len, 64);
}
CK_RV verify(CK_SESSION_HANDLE, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG sl) {
    touch(d, dl);
    touch(s, sl);
    return CKR_SIGNATURE_INVALID;
}
CK_RV generate_key_pair(CK_SESSION_HANDLE, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR a, CK_ULONG an,
                        CK_ATTRIBUTE_PTR b, CK_ULONG bn, CK_OBJECT_HANDLE_PTR pa,
                        CK_OBJECT_HANDLE_PTR pb) {
    touch_mechanism(m);
    touch_template(a, an);
    touch_template(b, bn);
    *pa = 11;
    *pb = 12;
    return CKR_OK;
}
CK_RV derive_key(CK_SESSION_HANDLE, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR t,
                 CK_ULONG n, CK_OBJECT_HANDLE_PTR k) {
    touch_mechanism(m);
    touch_template(t, n);
    *k = 13;
    return CKR_OK;
}
CK_RV generate_random(CK_SESSION_HANDLE, CK_BYTE_PTR out, CK_ULONG len) {
    if (len > 0)
        std::memset(out, 0x42, len);
    return CKR_OK;
}
CK_RV wait_for_slot_event(CK_FLAGS, CK_SLOT_ID_PTR slot, CK_VOID_PTR) {
    *slot = 1;
    return CKR_OK;
}

}  // namespace

CK_FUNCTION_LIST* stub_module() {
    static CK_FUNCTION_LIST f = [] {
        CK_FUNCTION_LIST t{};
        t.version = {2, 40};
        t.C_Initialize = ok_void;
        t.C_Finalize = ok_void;
        t.C_GetInfo = get_info;
        t.C_GetSlotList = get_slot_list;
        t.C_GetSlotInfo = get_slot_info;
        t.C_GetTokenInfo = get_token_info;
        t.C_GetMechanismList = get_mechanism_list;
        t.C_GetMechanismInfo = get_mechanism_info;
        t.C_InitToken = init_token;
        t.C_InitPIN = init_pin;
        t.C_SetPIN = set_pin;
        t.C_OpenSession = open_session;
        t.C_CloseSession = session_only;
        t.C_CloseAllSessions = slot_only;
        t.C_GetSessionInfo = get_session_info;
        t.C_Login = login;
        t.C_Logout = session_only;
        t.C_CreateObject = create_object;
        t.C_DestroyObject = destroy_object;
        t.C_GetAttributeValue = get_attribute_value;
        t.C_SetAttributeValue = set_attribute_value;
        t.C_FindObjectsInit = find_objects_init;
        t.C_FindObjects = find_objects;
        t.C_FindObjectsFinal = session_only;
        t.C_SignInit = op_init;
        t.C_Sign = one_shot;
        t.C_VerifyInit = op_init;
        t.C_Verify = verify;
        t.C_DecryptInit = op_init;
        t.C_Decrypt = one_shot;
        t.C_EncryptInit = op_init;
        t.C_Encrypt = one_shot;
        t.C_GenerateKeyPair = generate_key_pair;
        t.C_DeriveKey = derive_key;
        t.C_GenerateRandom = generate_random;
        t.C_WaitForSlotEvent = wait_for_slot_event;
        return t;
    }();
    return &f;
}

}  // namespace attache::fuzz
