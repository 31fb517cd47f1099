#include "pkcs11/operations.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "pkcs11/limits.h"
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

}  // namespace

Result<Bytes> sign(const Session& session, CK_OBJECT_HANDLE key, Mechanism mechanism,
                   std::span<const uint8_t> data, std::string_view key_name,
                   std::optional<size_t> output_hint, const ContextLogin& context_login) {
    CK_FUNCTION_LIST* fn = session.fn();
    if (CK_RV rv = fn->C_SignInit(session.handle(), mechanism.get(), key); rv != CKR_OK) {
        return Error::pkcs11(rv, with_mechanism("C_SignInit", mechanism), key_name);
    }
    ATTACHE_CHECK(run_context_login(
        context_login, [&] { fn->C_SignInit(session.handle(), nullptr, CK_INVALID_HANDLE); }));
    auto r = query_sized<uint8_t>(
        [&](uint8_t* out, CK_ULONG* len) {
            return fn->C_Sign(session.handle(), const_cast<uint8_t*>(data.data()), data.size(), out,
                              len);
        },
        kMaxOutputSize, "C_Sign(" + std::string(key_name) + ")", output_hint);
    if (!r) {
        // A failed C_Sign ends the operation in the token; a cap or size error may not have.
        // Terminate it so the session stays usable (C_SignInit with NULL mechanism is the
        // v3.0 way; v2.40 modules reject it harmlessly).
        fn->C_SignInit(session.handle(), nullptr, CK_INVALID_HANDLE);
    }
    return r;
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
    CK_FUNCTION_LIST* fn = session.fn();
    if (CK_RV rv = fn->C_DecryptInit(session.handle(), mechanism.get(), key); rv != CKR_OK) {
        return Error::pkcs11(rv, with_mechanism("C_DecryptInit", mechanism), key_name);
    }
    ATTACHE_CHECK(run_context_login(
        context_login, [&] { fn->C_DecryptInit(session.handle(), nullptr, CK_INVALID_HANDLE); }));
    auto r = query_sized<uint8_t>(
        [&](uint8_t* out, CK_ULONG* len) {
            return fn->C_Decrypt(session.handle(), const_cast<uint8_t*>(ciphertext.data()),
                                 ciphertext.size(), out, len);
        },
        kMaxOutputSize, "C_Decrypt(" + std::string(key_name) + ")", output_hint);
    if (!r)
        fn->C_DecryptInit(session.handle(), nullptr, CK_INVALID_HANDLE);
    return r;
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
