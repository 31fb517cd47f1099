#pragma once

// The client's side of every call: encode the caller's arguments, round-trip through a
// CallChannel, decode the reply into the caller's outputs. The reply decoders trust nothing:
// a reply that does not decode, or that claims more than the caller's buffer holds, gives
// CKR_DEVICE_ERROR, as does a stopped helper. Size queries keep PKCS#11's convention: a NULL
// output pointer gives the length only; a short buffer CKR_BUFFER_TOO_SMALL and the length.
//
// C_OpenSession with a Notify callback answers CKR_ARGUMENTS_BAD: the callback cannot cross
// into the helper (and Attache never passes one). Reading a nested template attribute
// (CKA_WRAP_TEMPLATE, ...) with a buffer answers CK_UNAVAILABLE_INFORMATION for it and
// CKR_ATTRIBUTE_TYPE_INVALID; its length is answered. C_Initialize and C_Finalize are the
// helper's own business (it initialises at start and finalises at the end): both answer CKR_OK.
//
// sign_init_and_sign and decrypt_init_and_decrypt are C_SignInit + C_Sign (C_DecryptInit +
// C_Decrypt) in one round trip, with the same results as the two calls; `*stage` says which of
// the two the returned rv belongs to (a transport failure: init).

#include <p11-kit/pkcs11.h>

#include "pkcs11/module_helper/client/call_channel.h"

namespace attache::p11::module_helper::client_calls {

// clang-format off
CK_RV initialize(CallChannel& ch, CK_VOID_PTR args);
CK_RV finalize(CallChannel& ch, CK_VOID_PTR reserved);
CK_RV get_info(CallChannel& ch, CK_INFO_PTR info);
CK_RV get_slot_list(CallChannel& ch, CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count);
CK_RV get_slot_info(CallChannel& ch, CK_SLOT_ID slot, CK_SLOT_INFO_PTR info);
CK_RV get_token_info(CallChannel& ch, CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info);
CK_RV get_mechanism_list(CallChannel& ch, CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
CK_RV get_mechanism_info(CallChannel& ch, CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);
CK_RV init_token(CallChannel& ch, CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label);
CK_RV init_pin(CallChannel& ch, CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
CK_RV set_pin(CallChannel& ch, CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len);
CK_RV open_session(CallChannel& ch, CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR session);
CK_RV close_session(CallChannel& ch, CK_SESSION_HANDLE s);
CK_RV close_all_sessions(CallChannel& ch, CK_SLOT_ID slot);
CK_RV get_session_info(CallChannel& ch, CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info);
CK_RV login(CallChannel& ch, CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
CK_RV logout(CallChannel& ch, CK_SESSION_HANDLE s);
CK_RV create_object(CallChannel& ch, CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR object);
CK_RV destroy_object(CallChannel& ch, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE object);
CK_RV get_attribute_value(CallChannel& ch, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
CK_RV set_attribute_value(CallChannel& ch, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
CK_RV find_objects_init(CallChannel& ch, CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
CK_RV find_objects(CallChannel& ch, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max, CK_ULONG_PTR count);
CK_RV find_objects_final(CallChannel& ch, CK_SESSION_HANDLE s);
CK_RV sign_init(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key);
CK_RV sign(CallChannel& ch, CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV verify_init(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key);
CK_RV verify(CallChannel& ch, CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG sig_len);
CK_RV decrypt_init(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key);
CK_RV decrypt(CallChannel& ch, CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV encrypt_init(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key);
CK_RV encrypt(CallChannel& ch, CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV generate_key_pair(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub, CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv, CK_ULONG priv_count, CK_OBJECT_HANDLE_PTR pub_key, CK_OBJECT_HANDLE_PTR priv_key);
CK_RV derive_key(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key);
CK_RV generate_random(CallChannel& ch, CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG len);
CK_RV wait_for_slot_event(CallChannel& ch, CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved);
CK_RV sign_init_and_sign(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out, CK_ULONG_PTR out_len, CallStage* stage);
CK_RV decrypt_init_and_decrypt(CallChannel& ch, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out, CK_ULONG_PTR out_len, CallStage* stage);
// clang-format on

}  // namespace attache::p11::module_helper::client_calls
