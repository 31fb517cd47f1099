// Module: signatures (by the agent), verification (here, with OpenSSL), decryption and ECDH
// (by the agent), random bytes.

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "pkcs11/forwarding/derive.h"
#include "pkcs11/forwarding/key_unwrap.h"
#include "pkcs11/forwarding/log.h"
#include "pkcs11/forwarding/module.h"

namespace attache::forwarding {
namespace {

// Derived secrets one application may hold at once.
constexpr size_t kMaxSessionObjects = 4096;

void wipe(Bytes& b) {
    if (!b.empty())
        OPENSSL_cleanse(b.data(), b.size());
}

// The standard's convention for output buffers (PKCS#11 2.40, 5.2): NULL asks for the size,
// too small says so; in both cases the operation stays active. True when `out` was filled.
CK_RV deliver(const Bytes& value, CK_BYTE_PTR out, CK_ULONG_PTR out_len, bool& done) {
    done = false;
    if (out == nullptr) {
        *out_len = value.size();
        return CKR_OK;
    }
    if (*out_len < value.size()) {
        *out_len = value.size();
        return CKR_BUFFER_TOO_SMALL;
    }
    if (!value.empty())
        std::memcpy(out, value.data(), value.size());
    *out_len = value.size();
    done = true;
    return CKR_OK;
}

}  // namespace

Module::DecryptOperation::DecryptOperation() = default;

Module::DecryptOperation::~DecryptOperation() {
    if (result)
        wipe(*result);
}

CK_RV Module::key_for_operation(Session& s, CK_OBJECT_HANDLE handle, CK_OBJECT_CLASS klass,
                                uint32_t operation, ObjectPtr& out) {
    std::lock_guard lock(mutex_);
    auto it = objects_.find(handle);
    if (it == objects_.end() || it->second->slot != s.slot || !it->second->key)
        return CKR_KEY_HANDLE_INVALID;
    const Object& o = *it->second;
    // A certificate is no key (PKCS#11 2.40, C_SignInit: CKR_KEY_HANDLE_INVALID).
    if (o.klass != CKO_PRIVATE_KEY && o.klass != CKO_PUBLIC_KEY)
        return CKR_KEY_HANDLE_INVALID;
    if (o.is_private && !private_visible_locked(o)) {
        const SlotState* slot = slots_.find(s.slot);
        // Logged out or locked: a handle of an earlier login view is gone for good.
        if (slot != nullptr && slot->logged_in)
            return CKR_KEY_HANDLE_INVALID;
        return CKR_USER_NOT_LOGGED_IN;
    }
    // Verification takes the public key or the private key's public half.
    const bool class_ok =
        o.klass == klass || (klass == CKO_PUBLIC_KEY && o.klass == CKO_PRIVATE_KEY);
    if (!class_ok)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!(o.operations & operation))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    out = it->second;
    return CKR_OK;
}

CK_RV Module::sign_like_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                             CK_OBJECT_HANDLE key, bool verify) {
    return with_session(session, [&](Session& s) -> CK_RV {
        auto& slot_op = verify ? s.verify : s.sign;
        if (mechanism == nullptr) {  // PKCS#11 3.0: ends the active operation
            slot_op.reset();
            return CKR_OK;
        }
        if (operation_active(s))
            return CKR_OPERATION_ACTIVE;
        ObjectPtr o;
        CK_RV rv = key_for_operation(s, key, verify ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY,
                                     protocol::kOpSign, o);
        if (rv != CKR_OK)
            return rv;
        SignSpec spec;
        rv = parse_sign_mechanism(*mechanism, o->key->type, spec);
        if (rv != CKR_OK)
            return rv;
        SignInput input(spec, *o->key);
        rv = input.check_key();
        if (rv != CKR_OK)
            return rv;
        slot_op.emplace(SignOperation{std::move(input), o->key_id, s.slot, verify, std::nullopt,
                                      !verify && o->always_authenticate, nullptr});
        return CKR_OK;
    });
}

CK_RV Module::sign_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                        CK_OBJECT_HANDLE key) {
    return sign_like_init(session, mechanism, key, false);
}

CK_RV Module::verify_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                          CK_OBJECT_HANDLE key) {
    return sign_like_init(session, mechanism, key, true);
}

CK_RV Module::run_sign(Session& s, SignOperation& op, Bytes input, CK_BYTE_PTR signature,
                       CK_ULONG_PTR signature_len) {
    const size_t size = signature_size(op.input.key());
    Outcome o;
    protocol::SignRequest r = make_sign_request(op.key_id, op.input.spec(), std::move(input));
    // The context login's PIN goes with this one request and is then gone (the request's
    // Secret wipes it; a request carrying a PIN is never sent twice).
    r.context_pin = std::move(op.context_pin);
    op.context_pin.reset();
    const bool may_retry = !r.context_pin;
    auto reply = request<protocol::SignReply>(protocol::Request(std::move(r)), Call::operation,
                                              s.epoch, o, may_retry);
    if (!reply) {
        s.sign.reset();
        return fail(o, s);
    }
    if (reply->signature.size() != size) {
        s.sign.reset();
        debug("attache-agent returned a signature of " + std::to_string(reply->signature.size()) +
              " bytes, expected " + std::to_string(size));
        return CKR_DEVICE_ERROR;
    }
    bool done = false;
    const CK_RV rv = deliver(reply->signature, signature, signature_len, done);
    if (done) {
        s.sign.reset();
    } else {
        op.result = std::move(reply->signature);
    }
    return rv;
}

CK_RV Module::sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
                   CK_BYTE_PTR signature, CK_ULONG_PTR signature_len) {
    return with_session(session, [&](Session& s) -> CK_RV {
        if (!s.sign)
            return CKR_OPERATION_NOT_INITIALIZED;
        if (signature_len == nullptr || (data == nullptr && data_len > 0)) {
            s.sign.reset();
            return CKR_ARGUMENTS_BAD;
        }
        SignOperation& op = *s.sign;
        if (op.result) {
            bool done = false;
            const CK_RV rv = deliver(*op.result, signature, signature_len, done);
            if (done)
                s.sign.reset();
            return rv;
        }
        if (op.input.updated()) {  // C_Sign does not end a multi-part operation
            s.sign.reset();
            return CKR_OPERATION_ACTIVE;
        }
        const size_t size = signature_size(op.input.key());
        if (signature == nullptr) {
            *signature_len = size;
            return CKR_OK;
        }
        if (*signature_len < size) {
            *signature_len = size;
            return CKR_BUFFER_TOO_SMALL;
        }
        Bytes input;
        const CK_RV rv = op.input.single(data, data_len, input);
        if (rv != CKR_OK) {
            s.sign.reset();
            return rv;
        }
        return run_sign(s, op, std::move(input), signature, signature_len);
    });
}

CK_RV Module::sign_update(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len) {
    return with_session(session, [&](Session& s) -> CK_RV {
        if (!s.sign)
            return CKR_OPERATION_NOT_INITIALIZED;
        if (part == nullptr && part_len > 0) {
            s.sign.reset();
            return CKR_ARGUMENTS_BAD;
        }
        const CK_RV rv = s.sign->input.update(part, part_len);
        if (rv != CKR_OK)
            s.sign.reset();
        return rv;
    });
}

CK_RV Module::sign_final(CK_SESSION_HANDLE session, CK_BYTE_PTR signature,
                         CK_ULONG_PTR signature_len) {
    return with_session(session, [&](Session& s) -> CK_RV {
        if (!s.sign)
            return CKR_OPERATION_NOT_INITIALIZED;
        if (signature_len == nullptr) {
            s.sign.reset();
            return CKR_ARGUMENTS_BAD;
        }
        SignOperation& op = *s.sign;
        if (op.result) {
            bool done = false;
            const CK_RV rv = deliver(*op.result, signature, signature_len, done);
            if (done)
                s.sign.reset();
            return rv;
        }
        const size_t size = signature_size(op.input.key());
        if (signature == nullptr) {
            *signature_len = size;
            return CKR_OK;
        }
        if (*signature_len < size) {
            *signature_len = size;
            return CKR_BUFFER_TOO_SMALL;
        }
        Bytes input;
        const CK_RV rv = op.input.finish(input);
        if (rv != CKR_OK) {
            s.sign.reset();
            return rv;
        }
        return run_sign(s, op, std::move(input), signature, signature_len);
    });
}

CK_RV Module::verify(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
                     CK_BYTE_PTR signature, CK_ULONG signature_len) {
    return with_session(session, [&](Session& s) -> CK_RV {
        if (!s.verify)
            return CKR_OPERATION_NOT_INITIALIZED;
        SignOperation op = std::move(*s.verify);
        s.verify.reset();
        if (data == nullptr && data_len > 0)
            return CKR_ARGUMENTS_BAD;
        if (op.input.updated())
            return CKR_OPERATION_ACTIVE;
        Bytes input;
        const CK_RV rv = op.input.single(data, data_len, input);
        if (rv != CKR_OK)
            return rv;
        return verify_signature(op.input.spec(), op.input.key(), input, signature, signature_len);
    });
}

CK_RV Module::verify_update(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len) {
    return with_session(session, [&](Session& s) -> CK_RV {
        if (!s.verify)
            return CKR_OPERATION_NOT_INITIALIZED;
        if (part == nullptr && part_len > 0) {
            s.verify.reset();
            return CKR_ARGUMENTS_BAD;
        }
        const CK_RV rv = s.verify->input.update(part, part_len);
        if (rv != CKR_OK)
            s.verify.reset();
        return rv;
    });
}

CK_RV Module::verify_final(CK_SESSION_HANDLE session, CK_BYTE_PTR signature,
                           CK_ULONG signature_len) {
    return with_session(session, [&](Session& s) -> CK_RV {
        if (!s.verify)
            return CKR_OPERATION_NOT_INITIALIZED;
        SignOperation op = std::move(*s.verify);
        s.verify.reset();
        Bytes input;
        const CK_RV rv = op.input.finish(input);
        if (rv != CKR_OK)
            return rv;
        return verify_signature(op.input.spec(), op.input.key(), input, signature, signature_len);
    });
}

CK_RV Module::decrypt_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                           CK_OBJECT_HANDLE key) {
    return with_session(session, [&](Session& s) -> CK_RV {
        if (mechanism == nullptr) {
            s.decrypt.reset();
            return CKR_OK;
        }
        if (operation_active(s))
            return CKR_OPERATION_ACTIVE;
        ObjectPtr o;
        CK_RV rv = key_for_operation(s, key, CKO_PRIVATE_KEY, protocol::kOpDecrypt, o);
        if (rv != CKR_OK)
            return rv;
        DecryptSpec spec;
        rv = parse_decrypt_mechanism(*mechanism, o->key->type, spec);
        if (rv != CKR_OK)
            return rv;
        // The agent lists what the token decrypts: no question to the token here.
        if (!token_decrypts(o->decrypt_support, spec)) {
            return spec.scheme == protocol::DecryptScheme::rsa_oaep ? CKR_MECHANISM_PARAM_INVALID
                                                                    : CKR_MECHANISM_INVALID;
        }
        s.decrypt.emplace();
        s.decrypt->spec = std::move(spec);
        s.decrypt->key_id = o->key_id;
        s.decrypt->modulus_bytes = o->key->field_bytes;
        s.decrypt->always_authenticate = o->always_authenticate;
        return CKR_OK;
    });
}

CK_RV Module::decrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
    return with_session(session, [&](Session& s) -> CK_RV {
        if (!s.decrypt)
            return CKR_OPERATION_NOT_INITIALIZED;
        DecryptOperation& op = *s.decrypt;
        if (out_len == nullptr) {
            s.decrypt.reset();
            return CKR_ARGUMENTS_BAD;
        }
        if (op.result) {
            bool done = false;
            const CK_RV rv = deliver(*op.result, out, out_len, done);
            if (done)
                s.decrypt.reset();
            return rv;
        }
        if (data == nullptr) {
            s.decrypt.reset();
            return CKR_ARGUMENTS_BAD;
        }
        if (data_len != op.modulus_bytes) {
            s.decrypt.reset();
            return CKR_ENCRYPTED_DATA_LEN_RANGE;
        }
        if (out == nullptr) {  // an upper bound; the exact size comes with the plaintext
            *out_len = op.modulus_bytes;
            return CKR_OK;
        }
        protocol::DecryptRequest r;
        r.key = op.key_id;
        r.scheme = op.spec.scheme;
        r.oaep_hash = op.spec.oaep_hash;
        r.oaep_label = op.spec.oaep_label;
        r.data.assign(data, data + data_len);
        r.context_pin = std::move(op.context_pin);  // as in run_sign
        op.context_pin.reset();
        const bool may_retry = !r.context_pin;
        Outcome o;
        auto reply = request<protocol::DecryptReply>(protocol::Request(std::move(r)),
                                                     Call::operation, s.epoch, o, may_retry);
        if (!reply) {
            s.decrypt.reset();
            return fail(o, s);
        }
        if (reply->plaintext.size() > op.modulus_bytes) {
            wipe(reply->plaintext);
            s.decrypt.reset();
            return CKR_DEVICE_ERROR;
        }
        bool done = false;
        const CK_RV rv = deliver(reply->plaintext, out, out_len, done);
        if (done) {
            wipe(reply->plaintext);
            s.decrypt.reset();
        } else {
            op.result = std::move(reply->plaintext);
        }
        return rv;
    });
}

CK_RV Module::decrypt_update(CK_SESSION_HANDLE session) {
    // RSA decryption is single-part (PKCS#11 2.40 mechanisms, 2.1).
    return with_session(session, [&](Session& s) -> CK_RV {
        if (!s.decrypt)
            return CKR_OPERATION_NOT_INITIALIZED;
        s.decrypt.reset();
        return CKR_FUNCTION_NOT_SUPPORTED;
    });
}

CK_RV Module::derive_key(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                         CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                         CK_OBJECT_HANDLE_PTR key) {
    if (mechanism == nullptr || key == nullptr || (templ == nullptr && count > 0))
        return CKR_ARGUMENTS_BAD;
    return with_session(session, [&](Session& s) -> CK_RV {
        ObjectPtr o;
        CK_RV rv = key_for_operation(s, base, CKO_PRIVATE_KEY, protocol::kOpDerive, o);
        if (rv != CKR_OK)
            return rv;
        if (o->key->type != protocol::KeyType::ec)
            return CKR_KEY_TYPE_INCONSISTENT;
        EcdhSpec spec;
        rv = parse_ecdh_mechanism(*mechanism, o->key->field_bytes, spec);
        if (rv != CKR_OK)
            return rv;
        DerivedKeyTemplate t;
        rv = parse_derived_template(templ, count, spec.kdf != CKD_NULL, t);
        if (rv != CKR_OK)
            return rv;
        protocol::DeriveRequest r;
        r.key = o->key_id;
        r.peer_point = spec.peer_point;
        Outcome out;
        auto reply = request<protocol::DeriveReply>(protocol::Request(std::move(r)),
                                                    Call::operation, s.epoch, out);
        if (!reply)
            return fail(out, s);
        Bytes secret = std::move(reply->secret);
        if (secret.size() != o->key->field_bytes) {
            wipe(secret);
            return CKR_DEVICE_ERROR;
        }
        Bytes value;
        rv = derive_value(spec, secret, t.value_len, value);
        wipe(secret);
        if (rv != CKR_OK)
            return rv;
        return store_session_key(s, secret_key_attributes(t, std::move(value)), key);
    });
}

CK_RV Module::store_session_key(const Session& s, AttributeSet attributes,
                                CK_OBJECT_HANDLE_PTR key) {
    auto object = std::make_shared<Object>();
    object->slot = s.slot;
    object->klass = CKO_SECRET_KEY;
    object->owner = s.handle;
    object->attributes = std::move(attributes);
    object->is_private = object->attributes.flag(CKA_PRIVATE);
    std::lock_guard lock(mutex_);
    size_t session_objects = 0;
    for (const auto& [h, existing] : objects_)
        session_objects += existing->owner != 0;
    if (session_objects >= kMaxSessionObjects)
        return CKR_DEVICE_MEMORY;
    object->handle = next_handle();
    objects_.emplace(object->handle, object);
    *key = object->handle;
    return CKR_OK;
}

CK_RV Module::unwrap_key(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                         CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
                         CK_ATTRIBUTE_PTR templ, CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
    if (mechanism == nullptr || wrapped == nullptr || key == nullptr ||
        (templ == nullptr && count > 0)) {
        return CKR_ARGUMENTS_BAD;
    }
    return with_session(session, [&](Session& s) -> CK_RV {
        // Only with a secret key of this application (an ECDH result): the card's keys never
        // unwrap through the module.
        ObjectPtr kek;
        {
            std::lock_guard lock(mutex_);
            if (CK_RV rv = visible_object_locked(s, unwrapping_key, kek,
                                                 CKR_UNWRAPPING_KEY_HANDLE_INVALID);
                rv != CKR_OK) {
                return rv;
            }
        }
        if (kek->owner == 0 || kek->klass != CKO_SECRET_KEY)
            return CKR_UNWRAPPING_KEY_HANDLE_INVALID;
        // NSS derives its key-encryption key with CKA_WRAP (for its own software token,
        // which it may copy the key to); either usage allows unwrapping here.
        if (!kek->attributes.flag(CKA_UNWRAP) && !kek->attributes.flag(CKA_WRAP))
            return CKR_KEY_FUNCTION_NOT_PERMITTED;
        const Bytes* kek_value = kek->attributes.find(CKA_VALUE);
        if (kek_value == nullptr)
            return CKR_KEY_FUNCTION_NOT_PERMITTED;  // sensitive: its value was not kept
        Bytes value;
        CK_RV rv = aes_unwrap(*mechanism, *kek_value, wrapped, wrapped_len, value);
        if (rv != CKR_OK)
            return rv;
        // The new key's template, with its length from the unwrapped value.
        std::vector<CK_ATTRIBUTE> t(templ, templ + count);
        CK_ULONG value_len = value.size();
        if (std::none_of(t.begin(), t.end(),
                         [](const CK_ATTRIBUTE& a) { return a.type == CKA_VALUE_LEN; })) {
            t.push_back({CKA_VALUE_LEN, &value_len, sizeof value_len});
        }
        DerivedKeyTemplate parsed;
        rv = parse_derived_template(t.data(), t.size(), false, parsed);
        if (rv != CKR_OK || parsed.value_len != value.size()) {
            wipe(value);
            return rv != CKR_OK ? rv : CKR_TEMPLATE_INCONSISTENT;
        }
        return store_session_key(s, secret_key_attributes(parsed, std::move(value)), key);
    });
}

CK_RV Module::generate_random(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG len) {
    if (out == nullptr && len > 0)
        return CKR_ARGUMENTS_BAD;
    return with_session(session, [&](Session& s) -> CK_RV {
        CK_ULONG done = 0;
        while (done < len) {
            const auto chunk =
                static_cast<uint32_t>(std::min<CK_ULONG>(len - done, protocol::kMaxRandomSize));
            Outcome o;
            auto reply = request<protocol::RandomReply>(protocol::RandomRequest{chunk},
                                                        Call::operation, s.epoch, o);
            if (!reply)
                return fail(o, s);
            if (reply->data.size() != chunk)
                return CKR_DEVICE_ERROR;
            std::memcpy(out + done, reply->data.data(), chunk);
            done += chunk;
        }
        return CKR_OK;
    });
}

}  // namespace attache::forwarding
