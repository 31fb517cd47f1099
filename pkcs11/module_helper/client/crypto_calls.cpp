// Client calls for single-part signing, verification, decryption and encryption.

#include "pkcs11/module_helper/client/call_exchange.h"
#include "pkcs11/module_helper/client/client_calls.h"
#include "pkcs11/module_helper/wire/mechanism_codec.h"

namespace attache::p11::module_helper::client_calls {
namespace {

CK_RV init_call(CallChannel& ch, CallId call, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                CK_OBJECT_HANDLE key) {
    if (m == nullptr)
        return CKR_ARGUMENTS_BAD;
    FieldWriter w(call);
    w.ulong(s);
    if (!write_mechanism(w, m))
        return CKR_MECHANISM_PARAM_INVALID;
    w.ulong(key);
    return exchange_rv(ch, call, w);
}

CK_RV one_shot(CallChannel& ch, CallId call, CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len,
               CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
    if (out_len == nullptr)
        return CKR_ARGUMENTS_BAD;
    const CK_ULONG offered = out != nullptr ? *out_len : 0;
    FieldWriter w(call);
    w.ulong(s);
    w.bytes(data, len);
    write_output_request(w, out, offered);
    return exchange(ch, call, w, CallTiming::timed, [&](FieldReader& in, CK_RV rv) {
        return read_output(in, rv, out, offered, out_len);
    });
}

// A combined call: its rv is the Init call's (`*stage` init; outputs untouched) or, after a
// successful Init, the single-part call's with its output. A reply naming another stage, or
// the init stage with CKR_OK, does not decode.
CK_RV init_and_one_shot(CallChannel& ch, CallId call, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                        CK_OBJECT_HANDLE key, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
                        CK_ULONG_PTR out_len, CallStage* stage) {
    *stage = CallStage::init;
    if (m == nullptr || out_len == nullptr)
        return CKR_ARGUMENTS_BAD;
    const CK_ULONG offered = out != nullptr ? *out_len : 0;
    FieldWriter w(call);
    w.ulong(s);
    if (!write_mechanism(w, m))
        return CKR_MECHANISM_PARAM_INVALID;
    w.ulong(key);
    w.bytes(data, len);
    write_output_request(w, out, offered);
    return exchange(ch, call, w, CallTiming::timed, [&](FieldReader& in, CK_RV rv) -> CK_RV {
        const CK_ULONG answered = in.ulong();
        if (in.failed())
            return CKR_DEVICE_ERROR;
        if (answered == static_cast<CK_ULONG>(CallStage::init) && rv != CKR_OK)
            return rv;
        if (answered != static_cast<CK_ULONG>(CallStage::operation))
            return CKR_DEVICE_ERROR;
        *stage = CallStage::operation;
        return read_output(in, rv, out, offered, out_len);
    });
}

}  // namespace

CK_RV sign_init_and_sign(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                         CK_OBJECT_HANDLE key, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
                         CK_ULONG_PTR out_len, CallStage* stage) {
    return init_and_one_shot(ch, CallId::SignInitAndSign, s, m, key, data, len, out, out_len,
                             stage);
}
CK_RV decrypt_init_and_decrypt(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                               CK_OBJECT_HANDLE key, CK_BYTE_PTR data, CK_ULONG len,
                               CK_BYTE_PTR out, CK_ULONG_PTR out_len, CallStage* stage) {
    return init_and_one_shot(ch, CallId::DecryptInitAndDecrypt, s, m, key, data, len, out, out_len,
                             stage);
}

CK_RV sign_init(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
    return init_call(ch, CallId::C_SignInit, s, m, key);
}
CK_RV sign(CallChannel& ch, CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
           CK_ULONG_PTR out_len) {
    return one_shot(ch, CallId::C_Sign, s, data, len, out, out_len);
}
CK_RV verify_init(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
    return init_call(ch, CallId::C_VerifyInit, s, m, key);
}
CK_RV verify(CallChannel& ch, CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
             CK_ULONG sig_len) {
    FieldWriter w(CallId::C_Verify);
    w.ulong(s);
    w.bytes(data, len);
    w.bytes(sig, sig_len);
    return exchange_rv(ch, CallId::C_Verify, w);
}
CK_RV decrypt_init(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
    return init_call(ch, CallId::C_DecryptInit, s, m, key);
}
CK_RV decrypt(CallChannel& ch, CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
              CK_ULONG_PTR out_len) {
    return one_shot(ch, CallId::C_Decrypt, s, data, len, out, out_len);
}
CK_RV encrypt_init(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
    return init_call(ch, CallId::C_EncryptInit, s, m, key);
}
CK_RV encrypt(CallChannel& ch, CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
              CK_ULONG_PTR out_len) {
    return one_shot(ch, CallId::C_Encrypt, s, data, len, out, out_len);
}

}  // namespace attache::p11::module_helper::client_calls
