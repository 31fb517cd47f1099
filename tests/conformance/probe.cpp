#include "tests/conformance/probe.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "pkcs11/bytes.h"
#include "pkcs11/names.h"

namespace attache::testing {
namespace {

struct CtxDeleter {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_PKEY_CTX, CtxDeleter>;

std::string name_of(CK_RV rv) {
    return p11::rv_name(rv);
}

// OpenSSL's verdict on a raw r||s ECDSA signature of a digest.
bool ecdsa_verifies(EVP_PKEY* key, const Bytes& digest, const Bytes& sig) {
    if (sig.size() != 64)
        return false;
    ECDSA_SIG* s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(sig.data(), 32, nullptr), BN_bin2bn(sig.data() + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(s, &der);
    ECDSA_SIG_free(s);
    Ctx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    const bool ok = EVP_PKEY_verify_init(ctx.get()) == 1 &&
                    EVP_PKEY_verify(ctx.get(), der, len, digest.data(), digest.size()) == 1;
    OPENSSL_free(der);
    return ok;
}

// OpenSSL's verdict on a PKCS#1 v1.5 SHA-256 signature of `data`.
bool rsa_sha256_verifies(EVP_PKEY* key, const Bytes& data, const Bytes& sig) {
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    return EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
           EVP_DigestVerify(md.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
}

Bytes rsa_encrypt(EVP_PKEY* key, const Bytes& plain, bool oaep) {
    Ctx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    EVP_PKEY_encrypt_init(ctx.get());
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), oaep ? RSA_PKCS1_OAEP_PADDING : RSA_PKCS1_PADDING);
    size_t len = 0;
    EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plain.data(), plain.size());
    Bytes out(len);
    EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plain.data(), plain.size());
    out.resize(len);
    return out;
}

const Bytes kData = {'c', 'o', 'n', 'f', 'o', 'r', 'm', 'a', 'n', 'c', 'e'};

}  // namespace

void Probe::rv(const std::string& name, CK_RV value) {
    out_["rv." + name] = name_of(value);
}

CK_RV Probe::login() {
    return p11_.C_Login(s_, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin_.data()), pin_.size());
}

CK_SESSION_HANDLE Probe::open(bool rw) {
    CK_SESSION_HANDLE h = 0;
    const CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    if (p11_.C_OpenSession(slot_, flags, nullptr, nullptr, &h) != CKR_OK)
        return 0;
    return h;
}

std::vector<CK_OBJECT_HANDLE> Probe::find(CK_SESSION_HANDLE s, std::vector<CK_ATTRIBUTE> t) {
    std::vector<CK_OBJECT_HANDLE> found;
    if (p11_.C_FindObjectsInit(s, t.data(), t.size()) != CKR_OK)
        return found;
    CK_OBJECT_HANDLE h[8];
    CK_ULONG n = 0;
    while (p11_.C_FindObjects(s, h, 8, &n) == CKR_OK && n > 0)
        found.insert(found.end(), h, h + n);
    p11_.C_FindObjectsFinal(s);
    return found;
}

CK_OBJECT_HANDLE Probe::object(CK_SESSION_HANDLE s, CK_OBJECT_CLASS klass,
                               const std::string& label) {
    std::string l = label;
    auto found = find(s, {{CKA_CLASS, &klass, sizeof klass},
                          {CKA_LABEL, l.data(), static_cast<CK_ULONG>(l.size())}});
    return found.size() == 1 ? found[0] : CK_INVALID_HANDLE;
}

std::string Probe::attribute(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE a{type, nullptr, 0};
    CK_RV r = p11_.C_GetAttributeValue(s, h, &a, 1);
    if (r != CKR_OK)
        return name_of(r);
    Bytes b(a.ulValueLen);
    a.pValue = b.data();
    r = p11_.C_GetAttributeValue(s, h, &a, 1);
    if (r != CKR_OK)
        return name_of(r);
    b.resize(a.ulValueLen);
    return "CKR_OK " + hex(b);
}

Record Probe::run() {
    out_.clear();
    general();
    s_ = open();
    sessions();
    login_state();
    finding();
    attributes();
    signing();
    verifying();
    decrypting();
    deriving();
    operation_state();
    random();
    threads();
    fork_child();
    p11_.C_Logout(s_);
    rv("close", p11_.C_CloseSession(s_));
    return out_;
}

void Probe::general() {
    rv("get_info.null", p11_.C_GetInfo(nullptr));
    rv("slot_list.null_count", p11_.C_GetSlotList(CK_TRUE, nullptr, nullptr));
    CK_ULONG n = 0;
    rv("slot_list.size_query", p11_.C_GetSlotList(CK_TRUE, nullptr, &n));
    put("slot_list.size_query.has_slot", std::to_string(n >= 1));
    CK_SLOT_ID none[1];
    CK_ULONG zero = 0;
    const CK_RV small = p11_.C_GetSlotList(CK_TRUE, none, &zero);
    rv("slot_list.too_small", n == 0 ? CKR_BUFFER_TOO_SMALL : small);
    put("slot_list.too_small.count_set", std::to_string(zero == n));
    CK_TOKEN_INFO ti{};
    rv("token_info.invalid_slot", p11_.C_GetTokenInfo(0xdead, &ti));
    rv("token_info.null", p11_.C_GetTokenInfo(slot_, nullptr));
    rv("token_info", p11_.C_GetTokenInfo(slot_, &ti));
    put("token_info.label", std::string(reinterpret_cast<char*>(ti.label), sizeof ti.label));
    put("token_info.serial",
        std::string(reinterpret_cast<char*>(ti.serialNumber), sizeof ti.serialNumber));
    put("token_info.login_required", std::to_string((ti.flags & CKF_LOGIN_REQUIRED) != 0));
    put("token_info.initialized", std::to_string((ti.flags & CKF_TOKEN_INITIALIZED) != 0));
    CK_SLOT_INFO si{};
    rv("slot_info.null", p11_.C_GetSlotInfo(slot_, nullptr));
    rv("slot_info", p11_.C_GetSlotInfo(slot_, &si));
    put("slot_info.present", std::to_string((si.flags & CKF_TOKEN_PRESENT) != 0));
    CK_MECHANISM_INFO mi{};
    rv("mechanism_info.invalid", p11_.C_GetMechanismInfo(slot_, 0x8000beef, &mi));
    rv("mechanism_info.null", p11_.C_GetMechanismInfo(slot_, CKM_ECDSA, nullptr));
    rv("mechanism_info.ecdsa", p11_.C_GetMechanismInfo(slot_, CKM_ECDSA, &mi));
    put("mechanism_info.ecdsa.sign", std::to_string((mi.flags & CKF_SIGN) != 0));
    rv("mechanism_list.null_count", p11_.C_GetMechanismList(slot_, nullptr, nullptr));
    rv("mechanism_list.invalid_slot", p11_.C_GetMechanismList(0xdead, nullptr, &n));
}

void Probe::sessions() {
    CK_SESSION_HANDLE h = 0;
    rv("open.not_serial", p11_.C_OpenSession(slot_, 0, nullptr, nullptr, &h));
    rv("open.null", p11_.C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, nullptr));
    rv("open.invalid_slot", p11_.C_OpenSession(0xdead, CKF_SERIAL_SESSION, nullptr, nullptr, &h));
    rv("close.invalid", p11_.C_CloseSession(0xdead));
    CK_SESSION_INFO info{};
    rv("session_info.invalid", p11_.C_GetSessionInfo(0xdead, &info));
    rv("session_info.null", p11_.C_GetSessionInfo(s_, nullptr));
    rv("session_info", p11_.C_GetSessionInfo(s_, &info));
    put("session_info.state", std::to_string(info.state));
    put("session_info.flags", std::to_string(info.flags));
    const CK_SESSION_HANDLE rw = open(true);
    rv("session_info.rw", p11_.C_GetSessionInfo(rw, &info));
    put("session_info.rw.state", std::to_string(info.state));
    rv("close.rw", p11_.C_CloseSession(rw));
    rv("close.again", p11_.C_CloseSession(rw));
}

void Probe::login_state() {
    CK_SESSION_INFO info{};
    rv("logout.not_logged_in", p11_.C_Logout(s_));
    CK_UTF8CHAR wrong[] = "000000";
    rv("login.invalid_session", p11_.C_Login(0xdead, CKU_USER, wrong, 6));
    rv("login.bad_type", p11_.C_Login(s_, 77, wrong, 6));
    rv("login.so_with_ro_session", p11_.C_Login(s_, CKU_SO, wrong, 6));
    rv("login.wrong_pin", p11_.C_Login(s_, CKU_USER, wrong, 6));
    rv("login", login());
    rv("login.again", login());
    rv("login.so_while_user", p11_.C_Login(s_, CKU_SO, wrong, 6));
    p11_.C_GetSessionInfo(s_, &info);
    put("login.state", std::to_string(info.state));
    // Every session of the application shares the login.
    const CK_SESSION_HANDLE other = open();
    p11_.C_GetSessionInfo(other, &info);
    put("login.other_session_state", std::to_string(info.state));
    rv("logout", p11_.C_Logout(s_));
    p11_.C_GetSessionInfo(other, &info);
    put("logout.other_session_state", std::to_string(info.state));
    rv("logout.again", p11_.C_Logout(other));
    p11_.C_CloseSession(other);
}

void Probe::finding() {
    CK_OBJECT_HANDLE h[4];
    CK_ULONG n = 0;
    rv("find.not_initialized", p11_.C_FindObjects(s_, h, 4, &n));
    rv("find_final.not_initialized", p11_.C_FindObjectsFinal(s_));
    rv("find_init.null_template", p11_.C_FindObjectsInit(s_, nullptr, 1));
    rv("find_init.invalid_session", p11_.C_FindObjectsInit(0xdead, nullptr, 0));
    rv("find_init", p11_.C_FindObjectsInit(s_, nullptr, 0));
    rv("find_init.again", p11_.C_FindObjectsInit(s_, nullptr, 0));
    rv("find.null_count", p11_.C_FindObjects(s_, h, 4, nullptr));
    // One object at a time until none is left.
    size_t total = 0;
    for (int i = 0; i < 100; ++i) {
        if (p11_.C_FindObjects(s_, h, 1, &n) != CKR_OK || n == 0)
            break;
        ++total;
    }
    put("find.public_objects", std::to_string(total));
    rv("find_final", p11_.C_FindObjectsFinal(s_));
    const auto count = [&](CK_OBJECT_CLASS klass) {
        return std::to_string(find(s_, {{CKA_CLASS, &klass, sizeof klass}}).size());
    };
    put("find.public.private_keys", count(CKO_PRIVATE_KEY));
    put("find.public.public_keys", count(CKO_PUBLIC_KEY));
    put("find.public.certificates", count(CKO_CERTIFICATE));
    login();
    put("find.user.private_keys", count(CKO_PRIVATE_KEY));
    put("find.user.public_keys", count(CKO_PUBLIC_KEY));
    CK_BBOOL yes = CK_TRUE;
    put("find.user.sign_keys", std::to_string(find(s_, {{CKA_SIGN, &yes, sizeof yes}}).size()));
    put("find.user.decrypt_keys",
        std::to_string(find(s_, {{CKA_DECRYPT, &yes, sizeof yes}}).size()));
    std::string nobody = "nobody";
    put("find.unknown_label",
        std::to_string(
            find(s_, {{CKA_LABEL, nobody.data(), static_cast<CK_ULONG>(nobody.size())}}).size()));
    for (const auto& [label, key] : keys_.public_keys) {
        const CK_OBJECT_HANDLE priv = object(s_, CKO_PRIVATE_KEY, label);
        CK_ATTRIBUTE a{CKA_ID, nullptr, 0};
        p11_.C_GetAttributeValue(s_, priv, &a, 1);
        Bytes id(a.ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a.ulValueLen);
        a.pValue = id.data();
        p11_.C_GetAttributeValue(s_, priv, &a, 1);
        const auto by_id = find(s_, {{CKA_ID, id.data(), static_cast<CK_ULONG>(id.size())}});
        put("find." + label + ".by_id", std::to_string(by_id.size()));
    }
    p11_.C_Logout(s_);
    put("find.after_logout.private_keys", count(CKO_PRIVATE_KEY));
}

void Probe::attributes() {
    login();
    for (const auto& [label, key] : keys_.public_keys) {
        const std::string k = "attr." + label + ".";
        const CK_OBJECT_HANDLE priv = object(s_, CKO_PRIVATE_KEY, label);
        const CK_OBJECT_HANDLE pub = object(s_, CKO_PUBLIC_KEY, label);
        const CK_OBJECT_HANDLE cert = object(s_, CKO_CERTIFICATE, label);
        put(k + "objects",
            std::to_string(priv != 0) + std::to_string(pub != 0) + std::to_string(cert != 0));
        for (CK_ATTRIBUTE_TYPE t :
             {CKA_CLASS, CKA_KEY_TYPE, CKA_ID, CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE,
              CKA_EXTRACTABLE, CKA_SIGN, CKA_DECRYPT, CKA_DERIVE, CKA_UNWRAP, CKA_MODULUS,
              CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS, CKA_ALWAYS_AUTHENTICATE, CKA_SUBJECT}) {
            put(k + "private." + std::to_string(t), attribute(s_, priv, t));
        }
        for (CK_ATTRIBUTE_TYPE t :
             {CKA_CLASS, CKA_KEY_TYPE, CKA_ID, CKA_PRIVATE, CKA_VERIFY, CKA_ENCRYPT, CKA_MODULUS,
              CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS, CKA_EC_POINT, CKA_LABEL}) {
            put(k + "public." + std::to_string(t), attribute(s_, pub, t));
        }
        for (CK_ATTRIBUTE_TYPE t : {CKA_CLASS, CKA_CERTIFICATE_TYPE, CKA_ID, CKA_VALUE, CKA_SUBJECT,
                                    CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_LABEL}) {
            put(k + "certificate." + std::to_string(t), attribute(s_, cert, t));
        }
        // The secret parts are never readable.
        put(k + "private.sensitive_part",
            attribute(s_, priv,
                      key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? CKA_PRIVATE_EXPONENT
                                                                       : CKA_VALUE));
        // Templates: size query, too small, unknown type, several at once.
        CK_ATTRIBUTE size{CKA_VALUE, nullptr, 0};
        rv(k + "cert_value.size_query", p11_.C_GetAttributeValue(s_, cert, &size, 1));
        put(k + "cert_value.size", std::to_string(size.ulValueLen));
        unsigned char tiny[1];
        CK_ATTRIBUTE small{CKA_VALUE, tiny, sizeof tiny};
        rv(k + "cert_value.too_small", p11_.C_GetAttributeValue(s_, cert, &small, 1));
        put(k + "cert_value.too_small.len", std::to_string(small.ulValueLen));
        CK_OBJECT_CLASS klass = 0;
        CK_ATTRIBUTE mixed[2] = {{0x8000beef, nullptr, 0}, {CKA_CLASS, &klass, sizeof klass}};
        rv(k + "mixed", p11_.C_GetAttributeValue(s_, pub, mixed, 2));
        put(k + "mixed.unknown_len", std::to_string(mixed[0].ulValueLen));
        put(k + "mixed.class", std::to_string(klass));
    }
    CK_ATTRIBUTE a{CKA_CLASS, nullptr, 0};
    rv("attr.invalid_handle", p11_.C_GetAttributeValue(s_, 0xdead, &a, 1));
    rv("attr.null_template", p11_.C_GetAttributeValue(s_, 0xdead, nullptr, 1));
    CK_ULONG size = 0;
    rv("object_size.invalid_handle", p11_.C_GetObjectSize(s_, 0xdead, &size));
    p11_.C_Logout(s_);
}

void Probe::signing() {
    login();
    const CK_OBJECT_HANDLE ec = object(s_, CKO_PRIVATE_KEY, "ec-sign");
    const CK_OBJECT_HANDLE rsa = object(s_, CKO_PRIVATE_KEY, "rsa-sign");
    CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
    Bytes digest(32, 0x42), sig(256);
    CK_ULONG len = 0;
    rv("sign.not_initialized", p11_.C_Sign(s_, digest.data(), 32, sig.data(), &len));
    rv("sign_init.invalid_session", p11_.C_SignInit(0xdead, &ecdsa, ec));
    CK_MECHANISM bogus{0x8000beef, nullptr, 0};
    rv("sign_init.invalid_mechanism", p11_.C_SignInit(s_, &bogus, ec));
    rv("sign_init", p11_.C_SignInit(s_, &ecdsa, ec));
    rv("sign_init.again", p11_.C_SignInit(s_, &ecdsa, ec));
    len = 0;
    rv("sign.size_query", p11_.C_Sign(s_, digest.data(), 32, nullptr, &len));
    put("sign.size_query.len", std::to_string(len));
    len = 10;
    rv("sign.too_small", p11_.C_Sign(s_, digest.data(), 32, sig.data(), &len));
    put("sign.too_small.len", std::to_string(len));
    len = sig.size();
    rv("sign", p11_.C_Sign(s_, digest.data(), 32, sig.data(), &len));
    sig.resize(len);
    put("sign.verifies",
        std::to_string(ecdsa_verifies(keys_.public_keys.at("ec-sign"), digest, sig)));
    len = 64;
    rv("sign.after_done", p11_.C_Sign(s_, digest.data(), 32, sig.data(), &len));

    // Multi-part: hashed by whoever implements the mechanism, verified by OpenSSL.
    CK_MECHANISM sha256_rsa{CKM_SHA256_RSA_PKCS, nullptr, 0};
    rv("sign_multi.init", p11_.C_SignInit(s_, &sha256_rsa, rsa));
    rv("sign_multi.update1", p11_.C_SignUpdate(s_, const_cast<CK_BYTE_PTR>(kData.data()), 5));
    rv("sign_multi.update2",
       p11_.C_SignUpdate(s_, const_cast<CK_BYTE_PTR>(kData.data()) + 5, kData.size() - 5));
    len = 0;
    rv("sign_multi.final_size_query", p11_.C_SignFinal(s_, nullptr, &len));
    put("sign_multi.final_size_query.len", std::to_string(len));
    Bytes rsa_sig(len);
    rv("sign_multi.final", p11_.C_SignFinal(s_, rsa_sig.data(), &len));
    rsa_sig.resize(len);
    put("sign_multi.verifies",
        std::to_string(rsa_sha256_verifies(keys_.public_keys.at("rsa-sign"), kData, rsa_sig)));
    rv("sign_multi.final_after_done", p11_.C_SignFinal(s_, rsa_sig.data(), &len));
    // A one-shot C_Sign after C_SignUpdate ends the operation with an error.
    p11_.C_SignInit(s_, &sha256_rsa, rsa);
    p11_.C_SignUpdate(s_, const_cast<CK_BYTE_PTR>(kData.data()), kData.size());
    len = rsa_sig.size();
    const CK_RV mixed =
        p11_.C_Sign(s_, const_cast<CK_BYTE_PTR>(kData.data()), kData.size(), rsa_sig.data(), &len);
    put("sign_multi.one_shot_after_update.failed", std::to_string(mixed != CKR_OK));
    rv("sign_multi.after_one_shot_error", p11_.C_SignFinal(s_, rsa_sig.data(), &len));
    // One-shot SHA256_RSA_PKCS over the data.
    rv("sign_rsa.init", p11_.C_SignInit(s_, &sha256_rsa, rsa));
    len = rsa_sig.size();
    rv("sign_rsa",
       p11_.C_Sign(s_, const_cast<CK_BYTE_PTR>(kData.data()), kData.size(), rsa_sig.data(), &len));
    rsa_sig.resize(len);
    put("sign_rsa.verifies",
        std::to_string(rsa_sha256_verifies(keys_.public_keys.at("rsa-sign"), kData, rsa_sig)));
    // Keys that may not sign.
    rv("sign_init.decrypt_key",
       p11_.C_SignInit(s_, &ecdsa, object(s_, CKO_PRIVATE_KEY, "rsa-decrypt")));
    p11_.C_SignInit(s_, nullptr, 0);
    p11_.C_Logout(s_);
    rv("sign_init.logged_out", p11_.C_SignInit(s_, &ecdsa, ec));
    // A handle found in an earlier login.
    login();
    const CK_RV earlier = p11_.C_SignInit(s_, &ecdsa, ec);
    rv("sign_init.handle_of_earlier_login", earlier);
    if (earlier == CKR_OK) {
        len = 64;
        p11_.C_Sign(s_, digest.data(), 32, sig.data(), &len);
    }
    put("sign_init.same_handle_after_login",
        std::to_string(object(s_, CKO_PRIVATE_KEY, "ec-sign") == ec));
    p11_.C_Logout(s_);
}

void Probe::verifying() {
    login();
    const CK_OBJECT_HANDLE pub = object(s_, CKO_PUBLIC_KEY, "ec-sign");
    const CK_OBJECT_HANDLE ec = object(s_, CKO_PRIVATE_KEY, "ec-sign");
    CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
    Bytes digest(32, 0x24), sig(64);
    CK_ULONG len = 64;
    p11_.C_SignInit(s_, &ecdsa, ec);
    p11_.C_Sign(s_, digest.data(), 32, sig.data(), &len);
    rv("verify.not_initialized", p11_.C_Verify(s_, digest.data(), 32, sig.data(), 64));
    rv("verify_init", p11_.C_VerifyInit(s_, &ecdsa, pub));
    rv("verify", p11_.C_Verify(s_, digest.data(), 32, sig.data(), 64));
    p11_.C_VerifyInit(s_, &ecdsa, pub);
    sig[5] ^= 1;
    rv("verify.bad_signature", p11_.C_Verify(s_, digest.data(), 32, sig.data(), 64));
    p11_.C_VerifyInit(s_, &ecdsa, pub);
    rv("verify.short_signature", p11_.C_Verify(s_, digest.data(), 32, sig.data(), 63));
    rv("verify.after_error", p11_.C_Verify(s_, digest.data(), 32, sig.data(), 64));
    p11_.C_Logout(s_);
}

void Probe::decrypting() {
    login();
    const CK_OBJECT_HANDLE rsa = object(s_, CKO_PRIVATE_KEY, "rsa-decrypt");
    EVP_PKEY* pub = keys_.public_keys.at("rsa-decrypt");
    const Bytes secret = {'s', 'e', 'c', 'r', 'e', 't'};
    CK_MECHANISM pkcs1{CKM_RSA_PKCS, nullptr, 0};
    Bytes cipher = rsa_encrypt(pub, secret, false);
    Bytes plain(512);
    CK_ULONG len = 0;
    rv("decrypt.not_initialized",
       p11_.C_Decrypt(s_, cipher.data(), cipher.size(), plain.data(), &len));
    rv("decrypt_init", p11_.C_DecryptInit(s_, &pkcs1, rsa));
    rv("decrypt_init.again", p11_.C_DecryptInit(s_, &pkcs1, rsa));
    len = 2;
    rv("decrypt.too_small", p11_.C_Decrypt(s_, cipher.data(), cipher.size(), plain.data(), &len));
    len = plain.size();
    rv("decrypt", p11_.C_Decrypt(s_, cipher.data(), cipher.size(), plain.data(), &len));
    put("decrypt.plain", std::to_string(Bytes(plain.begin(), plain.begin() + len) == secret));
    p11_.C_DecryptInit(s_, &pkcs1, rsa);
    len = plain.size();
    rv("decrypt.wrong_length", p11_.C_Decrypt(s_, cipher.data(), 17, plain.data(), &len));
    rv("decrypt.after_error", p11_.C_Decrypt(s_, cipher.data(), cipher.size(), plain.data(), &len));
    CK_RSA_PKCS_OAEP_PARAMS sha1{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
    CK_MECHANISM oaep{CKM_RSA_PKCS_OAEP, &sha1, sizeof sha1};
    Bytes oaep_cipher = rsa_encrypt(pub, secret, true);
    rv("decrypt_oaep.init", p11_.C_DecryptInit(s_, &oaep, rsa));
    len = plain.size();
    rv("decrypt_oaep",
       p11_.C_Decrypt(s_, oaep_cipher.data(), oaep_cipher.size(), plain.data(), &len));
    put("decrypt_oaep.plain", std::to_string(Bytes(plain.begin(), plain.begin() + len) == secret));
    CK_RSA_PKCS_OAEP_PARAMS sha256{CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
    CK_MECHANISM oaep256{CKM_RSA_PKCS_OAEP, &sha256, sizeof sha256};
    const CK_RV init256 = p11_.C_DecryptInit(s_, &oaep256, rsa);
    // SoftHSM2 2.6 has no OAEP with SHA-256: either way, the error comes at init.
    put("decrypt_oaep256.init_refused", std::to_string(init256 != CKR_OK));
    if (init256 == CKR_OK)
        p11_.C_DecryptInit(s_, nullptr, 0);
    rv("decrypt_init.sign_key",
       p11_.C_DecryptInit(s_, &pkcs1, object(s_, CKO_PRIVATE_KEY, "rsa-sign")));
    p11_.C_Logout(s_);
}

void Probe::deriving() {
    login();
    const CK_OBJECT_HANDLE key = object(s_, CKO_PRIVATE_KEY, "ec-derive");
    EVP_PKEY* pub = keys_.public_keys.at("ec-derive");
    // The peer: a fresh P-256 key; the expected secret computed by OpenSSL.
    PkeyPtr peer(EVP_EC_gen("P-256"));
    size_t point_len = 0;
    EVP_PKEY_get_octet_string_param(peer.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0,
                                    &point_len);
    Bytes point(point_len);
    EVP_PKEY_get_octet_string_param(peer.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                    point.size(), &point_len);
    Ctx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, peer.get(), nullptr));
    EVP_PKEY_derive_init(ctx.get());
    EVP_PKEY_derive_set_peer(ctx.get(), pub);
    size_t z_len = 0;
    EVP_PKEY_derive(ctx.get(), nullptr, &z_len);
    Bytes z(z_len);
    EVP_PKEY_derive(ctx.get(), z.data(), &z_len);

    CK_ECDH1_DERIVE_PARAMS params{CKD_NULL, 0, nullptr, static_cast<CK_ULONG>(point.size()),
                                  point.data()};
    CK_MECHANISM m{CKM_ECDH1_DERIVE, &params, sizeof params};
    CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ULONG value_len = z.size();
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &klass, sizeof klass},   {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_TOKEN, &no, sizeof no},         {CKA_SENSITIVE, &no, sizeof no},
        {CKA_EXTRACTABLE, &yes, sizeof yes}, {CKA_VALUE_LEN, &value_len, sizeof value_len}};
    CK_OBJECT_HANDLE derived = 0;
    rv("derive.null_mechanism", p11_.C_DeriveKey(s_, nullptr, key, t, 6, &derived));
    rv("derive", p11_.C_DeriveKey(s_, &m, key, t, 6, &derived));
    std::string value = attribute(s_, derived, CKA_VALUE);
    put("derive.value", std::to_string(value == "CKR_OK " + hex(z)));
    rv("derive.destroy", p11_.C_DestroyObject(s_, derived));
    rv("derive.destroy_again", p11_.C_DestroyObject(s_, derived));
    p11_.C_Logout(s_);
}

void Probe::operation_state() {
    login();
    const CK_OBJECT_HANDLE ec = object(s_, CKO_PRIVATE_KEY, "ec-sign");
    const CK_OBJECT_HANDLE pub = object(s_, CKO_PUBLIC_KEY, "ec-sign");
    const CK_OBJECT_HANDLE rsa = object(s_, CKO_PRIVATE_KEY, "rsa-decrypt");
    CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
    CK_MECHANISM pkcs1{CKM_RSA_PKCS, nullptr, 0};
    rv("ops.sign_init", p11_.C_SignInit(s_, &ecdsa, ec));
    rv("ops.find_while_signing", p11_.C_FindObjectsInit(s_, nullptr, 0));
    rv("ops.decrypt_while_signing", p11_.C_DecryptInit(s_, &pkcs1, rsa));
    rv("ops.verify_while_signing", p11_.C_VerifyInit(s_, &ecdsa, pub));
    Bytes digest(32, 1), sig(64);
    CK_ULONG len = 64;
    p11_.C_Sign(s_, digest.data(), 32, sig.data(), &len);
    rv("ops.find_init", p11_.C_FindObjectsInit(s_, nullptr, 0));
    rv("ops.sign_while_finding", p11_.C_SignInit(s_, &ecdsa, ec));
    rv("ops.decrypt_while_finding", p11_.C_DecryptInit(s_, &pkcs1, rsa));
    p11_.C_FindObjectsFinal(s_);
    // Another session is independent.
    const CK_SESSION_HANDLE other = open();
    rv("ops.sign_init", p11_.C_SignInit(s_, &ecdsa, ec));
    rv("ops.other_session_sign_init", p11_.C_SignInit(other, &ecdsa, ec));
    len = 64;
    rv("ops.other_session_sign", p11_.C_Sign(other, digest.data(), 32, sig.data(), &len));
    len = 64;
    rv("ops.sign", p11_.C_Sign(s_, digest.data(), 32, sig.data(), &len));
    // Closing a session ends its operations; the handle is gone.
    p11_.C_SignInit(other, &ecdsa, ec);
    rv("ops.close_active", p11_.C_CloseSession(other));
    rv("ops.sign_on_closed", p11_.C_Sign(other, digest.data(), 32, sig.data(), &len));
    // C_Logout leaves the session's operation state as the token has it.
    p11_.C_Logout(s_);
}

void Probe::random() {
    Bytes r(48);
    rv("random", p11_.C_GenerateRandom(s_, r.data(), r.size()));
    put("random.nonzero", std::to_string(r != Bytes(48, 0)));
    rv("random.null", p11_.C_GenerateRandom(s_, nullptr, 5));
    rv("random.invalid_session", p11_.C_GenerateRandom(0xdead, r.data(), 4));
}

void Probe::threads() {
    login();
    const CK_OBJECT_HANDLE ec = object(s_, CKO_PRIVATE_KEY, "ec-sign");
    EVP_PKEY* pub = keys_.public_keys.at("ec-sign");
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            const CK_SESSION_HANDLE s = open();
            for (int i = 0; i < 16; ++i) {
                Bytes digest(32, static_cast<uint8_t>(t * 16 + i)), sig(64);
                CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
                CK_ULONG len = 64;
                if (p11_.C_SignInit(s, &m, ec) != CKR_OK ||
                    p11_.C_Sign(s, digest.data(), 32, sig.data(), &len) != CKR_OK ||
                    !ecdsa_verifies(pub, digest, sig)) {
                    ++failures;
                }
            }
            p11_.C_CloseSession(s);
        });
    }
    for (auto& w : workers)
        w.join();
    put("threads.failures", std::to_string(failures.load()));
    p11_.C_Logout(s_);
}

void Probe::fork_child() {
    // What a child may do: initialise again, open a session, log in and sign.
    int fds[2];
    if (pipe(fds) != 0) {
        put("fork", "no pipe");
        return;
    }
    const pid_t child = ::fork();
    if (child == 0) {
        close(fds[0]);
        CK_C_INITIALIZE_ARGS args{};
        args.flags = CKF_OS_LOCKING_OK;
        const CK_RV init = p11_.C_Initialize(&args);
        std::string result = name_of(init);
        CK_SESSION_HANDLE s = 0;
        CK_RV r = p11_.C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &s);
        if (r == CKR_OK) {
            r = p11_.C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin_.data()),
                             pin_.size());
        }
        CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
        std::string label = "ec-sign";
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &klass, sizeof klass},
                            {CKA_LABEL, label.data(), static_cast<CK_ULONG>(label.size())}};
        CK_OBJECT_HANDLE key = 0;
        CK_ULONG n = 0;
        if (r == CKR_OK || r == CKR_USER_ALREADY_LOGGED_IN) {
            p11_.C_FindObjectsInit(s, t, 2);
            p11_.C_FindObjects(s, &key, 1, &n);
            p11_.C_FindObjectsFinal(s);
        }
        Bytes digest(32, 7), sig(64);
        CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
        CK_ULONG len = 64;
        const bool signed_ok = n == 1 && p11_.C_SignInit(s, &m, key) == CKR_OK &&
                               p11_.C_Sign(s, digest.data(), 32, sig.data(), &len) == CKR_OK &&
                               ecdsa_verifies(keys_.public_keys.at("ec-sign"), digest, sig);
        result += signed_ok ? " signs" : " fails";
        if (write(fds[1], result.data(), result.size()) < 0)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    std::string got;
    char buf[128];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0)
        got.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    put("fork.child", got);
    put("fork.child_exit", std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1));
    // The parent's session is untouched by the child.
    CK_SESSION_INFO info{};
    rv("fork.parent_session", p11_.C_GetSessionInfo(s_, &info));
}

}  // namespace attache::testing
