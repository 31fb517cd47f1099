#include "pkcs11/operations.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "pkcs11/limits.h"
#include "pkcs11/module_helper/combined_calls.h"
#include "pkcs11/names.h"
#include "pkcs11/size_query.h"

namespace attache::p11 {
namespace {

std::string with_mechanism(std::string_view call, Mechanism& m) {
    return std::string(call) + "[" + mechanism_name(m.type()) + "]";
}

// The context-specific login after the Init call; `end` terminates the operation when it fails
// (the Init call with a NULL mechanism, PKCS#11 v3.0; v2.40 modules reject it harmlessly).
Status run_context_login(const ContextLogin& context_login, const std::function<void()>& end) {
    if (!context_login)
        return ok();
    Status s = context_login();
    if (!s)
        end();
    return s;
}

// What differs between a signature and a decryption: the Init call, the single-part call and
// the helper's call that makes both in one round trip.
struct SinglePart {
    std::string_view init_name;  // "C_SignInit"
    std::string_view call_name;  // "C_Sign"
    decltype(CK_FUNCTION_LIST::C_SignInit) CK_FUNCTION_LIST::*init;
    decltype(CK_FUNCTION_LIST::C_Sign) CK_FUNCTION_LIST::*call;
    CK_RV(module_helper::CombinedCalls::*combined)
    (CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
     CK_ULONG_PTR, module_helper::CallStage*) const;
};

// The Init call, the context login if any, then the single-part call through query_sized. With
// a helper and no context login (nothing runs between the two calls), the Init call and
// query_sized's first attempt are one combined call; a retry after CKR_BUFFER_TOO_SMALL is the
// plain single-part call, which completes the operation the combined call left active.
Result<Bytes> single_part(const Session& session, CK_OBJECT_HANDLE key, Mechanism& mechanism,
                          std::span<const uint8_t> input, std::string_view key_name,
                          std::optional<size_t> output_hint, const ContextLogin& context_login,
                          const SinglePart& part) {
    const CK_SESSION_HANDLE s = session.handle();
    CK_FUNCTION_LIST* fn = session.fn();
    // Terminates the operation (the Init call with a NULL mechanism, PKCS#11 v3.0; v2.40
    // modules reject it harmlessly).
    auto end = [&] { (fn->*part.init)(s, nullptr, CK_INVALID_HANDLE); };
    const module_helper::CombinedCalls* combined =
        context_login ? nullptr : session.combined_calls();
    if (combined == nullptr) {
        if (CK_RV rv = (fn->*part.init)(s, mechanism.get(), key); rv != CKR_OK)
            return Error::pkcs11(rv, with_mechanism(part.init_name, mechanism), key_name);
        ATTACHE_CHECK(run_context_login(context_login, end));
    }
    std::optional<CK_RV> init_failed;
    auto r = query_sized<uint8_t>(
        [&](uint8_t* out, CK_ULONG* len) -> CK_RV {
            auto* in = const_cast<uint8_t*>(input.data());
            if (combined == nullptr)
                return (fn->*part.call)(s, in, input.size(), out, len);
            auto stage = module_helper::CallStage::init;
            const CK_RV rv = (combined->*part.combined)(s, mechanism.get(), key, in, input.size(),
                                                        out, len, &stage);
            combined = nullptr;
            if (stage == module_helper::CallStage::init) {
                init_failed = rv == CKR_OK ? CKR_DEVICE_ERROR : rv;
                return *init_failed;
            }
            return rv;
        },
        kMaxOutputSize, std::string(part.call_name) + "(" + std::string(key_name) + ")",
        output_hint);
    if (init_failed)
        return Error::pkcs11(*init_failed, with_mechanism(part.init_name, mechanism), key_name);
    if (!r) {
        // A failed single-part call ends the operation in the token; a cap or size error may
        // not have. Terminate it so the session stays usable.
        end();
    }
    return r;
}

constexpr SinglePart kSigning{"C_SignInit", "C_Sign", &CK_FUNCTION_LIST::C_SignInit,
                              &CK_FUNCTION_LIST::C_Sign,
                              &module_helper::CombinedCalls::sign_init_and_sign};
constexpr SinglePart kDecryption{"C_DecryptInit", "C_Decrypt", &CK_FUNCTION_LIST::C_DecryptInit,
                                 &CK_FUNCTION_LIST::C_Decrypt,
                                 &module_helper::CombinedCalls::decrypt_init_and_decrypt};

}  // namespace

Result<Bytes> sign(const Session& session, CK_OBJECT_HANDLE key, Mechanism mechanism,
                   std::span<const uint8_t> data, std::string_view key_name,
                   std::optional<size_t> output_hint, const ContextLogin& context_login) {
    return single_part(session, key, mechanism, data, key_name, output_hint, context_login,
                       kSigning);
}

Status verify(const Session& session, CK_OBJECT_HANDLE key, Mechanism mechanism,
              std::span<const uint8_t> data, std::span<const uint8_t> signature,
              std::string_view key_name) {
    CK_FUNCTION_LIST* fn = session.fn();
    if (CK_RV rv = fn->C_VerifyInit(session.handle(), mechanism.get(), key); rv != CKR_OK) {
        return Error::pkcs11(rv, with_mechanism("C_VerifyInit", mechanism), key_name);
    }
    CK_RV rv = fn->C_Verify(session.handle(), const_cast<uint8_t*>(data.data()), data.size(),
                            const_cast<uint8_t*>(signature.data()), signature.size());
    if (rv != CKR_OK)
        return Error::pkcs11(rv, "C_Verify", key_name);
    return ok();
}

Result<Bytes> decrypt(const Session& session, CK_OBJECT_HANDLE key, Mechanism mechanism,
                      std::span<const uint8_t> ciphertext, std::string_view key_name,
                      std::optional<size_t> output_hint, const ContextLogin& context_login) {
    return single_part(session, key, mechanism, ciphertext, key_name, output_hint, context_login,
                       kDecryption);
}

Result<Bytes> derive_ecdh(const Session& session, CK_OBJECT_HANDLE key,
                          std::span<const uint8_t> peer_point, size_t secret_size,
                          std::string_view key_name) {
    Mechanism mechanism = Mechanism::ecdh1(Bytes(peer_point.begin(), peer_point.end()));
    AttributeTemplate templ;
    templ.add_ulong(CKA_CLASS, CKO_SECRET_KEY)
        .add_ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .add_ulong(CKA_VALUE_LEN, secret_size)
        .add_bool(CKA_TOKEN, false)
        .add_bool(CKA_PRIVATE, true)
        .add_bool(CKA_SENSITIVE, false)
        .add_bool(CKA_EXTRACTABLE, true);
    CK_OBJECT_HANDLE secret = CK_INVALID_HANDLE;
    CK_FUNCTION_LIST* fn = session.fn();
    if (CK_RV rv = fn->C_DeriveKey(session.handle(), mechanism.get(), key, templ.data(),
                                   templ.size(), &secret);
        rv != CKR_OK) {
        return Error::pkcs11(rv, "C_DeriveKey[CKM_ECDH1_DERIVE]", key_name);
    }
    auto value = session.read_bytes(secret, CKA_VALUE);
    fn->C_DestroyObject(session.handle(), secret);
    if (!value)
        return std::move(value).error().context("reading the derived secret");
    return value;
}

Result<Bytes> ecdsa_raw_to_der(std::span<const uint8_t> raw) {
    if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 2 * 66) {
        return Error("ECDSA signature of odd or impossible length " + std::to_string(raw.size()));
    }
    const int half = static_cast<int>(raw.size() / 2);
    BIGNUM* r = BN_bin2bn(raw.data(), half, nullptr);
    BIGNUM* s = BN_bin2bn(raw.data() + half, half, nullptr);
    ECDSA_SIG* sig = ECDSA_SIG_new();
    if (!r || !s || !sig || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return Error("cannot build ECDSA signature");
    }
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(sig, &out);
    ECDSA_SIG_free(sig);
    if (len <= 0)
        return Error("cannot encode ECDSA signature");
    Bytes der(out, out + len);
    OPENSSL_free(out);
    return der;
}

Result<Bytes> ecdsa_der_to_raw(std::span<const uint8_t> der, size_t field_bytes) {
    const unsigned char* p = der.data();
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    if (sig == nullptr || p != der.data() + der.size()) {
        ECDSA_SIG_free(sig);
        return Error("not a DER ECDSA signature");
    }
    Bytes raw(2 * field_bytes);
    const BIGNUM* r = ECDSA_SIG_get0_r(sig);
    const BIGNUM* s = ECDSA_SIG_get0_s(sig);
    bool okay = BN_bn2binpad(r, raw.data(), static_cast<int>(field_bytes)) > 0 &&
                BN_bn2binpad(s, raw.data() + field_bytes, static_cast<int>(field_bytes)) > 0;
    ECDSA_SIG_free(sig);
    if (!okay)
        return Error("ECDSA signature does not fit the curve");
    return raw;
}

}  // namespace attache::p11
