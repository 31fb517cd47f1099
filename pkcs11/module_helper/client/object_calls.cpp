// Client calls on objects: create, destroy, attributes, search, key generation, derivation.

#include <cstring>
#include <vector>

#include "pkcs11/module_helper/client/call_exchange.h"
#include "pkcs11/module_helper/client/client_calls.h"
#include "pkcs11/module_helper/wire/limits.h"
#include "pkcs11/module_helper/wire/mechanism_codec.h"
#include "pkcs11/module_helper/wire/template_codec.h"

namespace attache::p11::module_helper::client_calls {
namespace {

CK_RV read_handle(FieldReader& in, CK_RV rv, CK_OBJECT_HANDLE_PTR out) {
    const CK_OBJECT_HANDLE h = in.ulong();
    if (rv == CKR_OK)
        *out = h;
    return rv;
}

}  // namespace

CK_RV create_object(CallChannel& ch, CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                    CK_OBJECT_HANDLE_PTR object) {
    if (object == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_CreateObject);
    w.ulong(s);
    write_template(w, tmpl, count);
    return exchange(ch, CallId::C_CreateObject, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) { return read_handle(in, rv, object); });
}

CK_RV destroy_object(CallChannel& ch, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE object) {
    FieldWriter w(CallId::C_DestroyObject);
    w.ulong(s);
    w.ulong(object);
    return exchange_rv(ch, CallId::C_DestroyObject, w);
}

CK_RV get_attribute_value(CallChannel& ch, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE object,
                          CK_ATTRIBUTE_PTR tmpl, CK_ULONG count) {
    if ((tmpl == nullptr && count != 0) || count > kMaxAttributes)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_GetAttributeValue);
    w.ulong(s);
    w.ulong(object);
    w.count(count);
    for (CK_ULONG i = 0; i < count; ++i) {
        w.ulong(tmpl[i].type);
        const bool buffer = tmpl[i].pValue != nullptr && !is_nested_template(tmpl[i].type);
        write_output_request(w, buffer ? tmpl[i].pValue : nullptr, tmpl[i].ulValueLen);
    }
    return exchange(
        ch, CallId::C_GetAttributeValue, w, CallTiming::timed, [&](FieldReader& in, CK_RV rv) {
            if (in.count(kMaxAttributes) != count)
                return static_cast<CK_RV>(CKR_DEVICE_ERROR);
            CK_RV result = rv;
            for (CK_ULONG i = 0; i < count && !in.failed(); ++i) {
                CK_ATTRIBUTE& a = tmpl[i];
                const CK_ULONG length = in.ulong();
                auto bytes = in.bytes();
                if (a.pValue != nullptr && is_nested_template(a.type)) {
                    if (bytes)
                        return static_cast<CK_RV>(CKR_DEVICE_ERROR);
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    if (result == CKR_OK)
                        result = CKR_ATTRIBUTE_TYPE_INVALID;
                    continue;
                }
                if (bytes) {
                    if (a.pValue == nullptr || bytes->size() != length || length > a.ulValueLen)
                        return static_cast<CK_RV>(CKR_DEVICE_ERROR);
                    if (length > 0)
                        std::memcpy(a.pValue, bytes->data(), length);
                }
                a.ulValueLen = length;
            }
            return result;
        });
}

CK_RV set_attribute_value(CallChannel& ch, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE object,
                          CK_ATTRIBUTE_PTR tmpl, CK_ULONG count) {
    FieldWriter w(CallId::C_SetAttributeValue);
    w.ulong(s);
    w.ulong(object);
    write_template(w, tmpl, count);
    return exchange_rv(ch, CallId::C_SetAttributeValue, w);
}

CK_RV find_objects_init(CallChannel& ch, CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl,
                        CK_ULONG count) {
    FieldWriter w(CallId::C_FindObjectsInit);
    w.ulong(s);
    write_template(w, tmpl, count);
    return exchange_rv(ch, CallId::C_FindObjectsInit, w);
}

CK_RV find_objects(CallChannel& ch, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max,
                   CK_ULONG_PTR count) {
    if (objects == nullptr || count == nullptr)
        return CKR_ARGUMENTS_BAD;
    const CK_ULONG asked = std::min<CK_ULONG>(max, kMaxList);
    FieldWriter w(CallId::C_FindObjects);
    w.ulong(s);
    w.ulong(asked);
    return exchange(ch, CallId::C_FindObjects, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) {
                        const std::vector<CK_ULONG> found = in.list(kMaxList);
                        if (in.failed() || found.size() > asked)
                            return static_cast<CK_RV>(CKR_DEVICE_ERROR);
                        if (rv == CKR_OK) {
                            std::copy(found.begin(), found.end(), objects);
                            *count = static_cast<CK_ULONG>(found.size());
                        }
                        return rv;
                    });
}

CK_RV find_objects_final(CallChannel& ch, CK_SESSION_HANDLE s) {
    FieldWriter w(CallId::C_FindObjectsFinal);
    w.ulong(s);
    return exchange_rv(ch, CallId::C_FindObjectsFinal, w);
}

CK_RV generate_key_pair(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                        CK_ATTRIBUTE_PTR pub, CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv,
                        CK_ULONG priv_count, CK_OBJECT_HANDLE_PTR pub_key,
                        CK_OBJECT_HANDLE_PTR priv_key) {
    if (m == nullptr || pub_key == nullptr || priv_key == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_GenerateKeyPair);
    w.ulong(s);
    if (!write_mechanism(w, m))
        return CKR_MECHANISM_PARAM_INVALID;
    write_template(w, pub, pub_count);
    write_template(w, priv, priv_count);
    return exchange(ch, CallId::C_GenerateKeyPair, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) {
                        const CK_OBJECT_HANDLE p = in.ulong();
                        const CK_OBJECT_HANDLE q = in.ulong();
                        if (rv == CKR_OK) {
                            *pub_key = p;
                            *priv_key = q;
                        }
                        return rv;
                    });
}

CK_RV derive_key(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base,
                 CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
    if (m == nullptr || key == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(CallId::C_DeriveKey);
    w.ulong(s);
    if (!write_mechanism(w, m))
        return CKR_MECHANISM_PARAM_INVALID;
    w.ulong(base);
    write_template(w, tmpl, count);
    return exchange(ch, CallId::C_DeriveKey, w, CallTiming::timed,
                    [&](FieldReader& in, CK_RV rv) { return read_handle(in, rv, key); });
}

}  // namespace attache::p11::module_helper::client_calls
