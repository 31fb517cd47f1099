// The same checks against SoftHSM2 directly and through attache-pkcs11.so must give the same
// results. Deliberate differences (docs/protocol.md, section attache-pkcs11.so) are left out
// of the comparison and listed here: token flags (the module always reports a protected
// authentication path, no write access), CKA_LOCAL and other attributes the agent does not
// report, and the label of public keys and certificates (the module shows the key's label).

#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "pkcs11/forwarding/hashes.h"
#include "pkcs11/public_key.h"
#include "tests/forwarding/forwarding_fixture.h"

namespace attache::testing {
namespace {

using Observations = std::map<std::string, std::string>;

std::string text_of(const Bytes& b) {
    return hex(b);
}

class Observer {
  public:
    Observer(CK_FUNCTION_LIST& p11, CK_SLOT_ID slot, const std::map<std::string, PkeyPtr>& keys)
        : p11_(p11), slot_(slot), keys_(keys) {}

    Observations observe(const char* pin) {
        CK_TOKEN_INFO ti{};
        record("token", p11_.C_GetTokenInfo(slot_, &ti));
        out_["token.label"] = std::string(reinterpret_cast<char*>(ti.label), 32);
        out_["token.serial"] = std::string(reinterpret_cast<char*>(ti.serialNumber), 16);
        out_["token.manufacturer"] = std::string(reinterpret_cast<char*>(ti.manufacturerID), 32);
        out_["token.model"] = std::string(reinterpret_cast<char*>(ti.model), 16);
        out_["token.login_required"] = std::to_string((ti.flags & CKF_LOGIN_REQUIRED) != 0);
        record("open", p11_.C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &s_));
        out_["public.private_keys"] = std::to_string(count(CKO_PRIVATE_KEY));
        out_["public.public_keys"] = std::to_string(count(CKO_PUBLIC_KEY));
        out_["public.certificates"] = std::to_string(count(CKO_CERTIFICATE));
        const size_t pin_len = pin ? std::strlen(pin) : 0;
        record("login",
               p11_.C_Login(s_, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin)),
                            pin_len));
        out_["user.private_keys"] = std::to_string(count(CKO_PRIVATE_KEY));
        for (const auto& [label, key] : keys_)
            observe_key(label);
        sign_checks();
        decrypt_checks();
        derive_check();
        refusal_checks();
        record("logout", p11_.C_Logout(s_));
        out_["after_logout.private_keys"] = std::to_string(count(CKO_PRIVATE_KEY));
        record("close", p11_.C_CloseSession(s_));
        return out_;
    }

  private:
    void record(const std::string& what, CK_RV rv) { out_["rv." + what] = rv_text(rv); }

    CK_ULONG count(CK_OBJECT_CLASS klass) {
        CK_ATTRIBUTE t{CKA_CLASS, &klass, sizeof klass};
        return find({t}).size();
    }

    std::vector<CK_OBJECT_HANDLE> find(std::vector<CK_ATTRIBUTE> t) {
        std::vector<CK_OBJECT_HANDLE> out;
        if (p11_.C_FindObjectsInit(s_, t.data(), t.size()) != CKR_OK)
            return out;
        CK_OBJECT_HANDLE h[16];
        CK_ULONG n = 0;
        while (p11_.C_FindObjects(s_, h, 16, &n) == CKR_OK && n > 0)
            out.insert(out.end(), h, h + n);
        p11_.C_FindObjectsFinal(s_);
        return out;
    }

    CK_OBJECT_HANDLE object(CK_OBJECT_CLASS klass, const std::string& label) {
        // By CKA_ID of the private key's label: public keys and certificates may carry
        // other labels on a card.
        std::string l = label;
        CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
        auto keys = find({{CKA_CLASS, &priv, sizeof priv},
                          {CKA_LABEL, l.data(), static_cast<CK_ULONG>(l.size())}});
        if (keys.size() != 1)
            return CK_INVALID_HANDLE;
        Bytes id = value(keys[0], CKA_ID);
        auto found = find({{CKA_CLASS, &klass, sizeof klass},
                           {CKA_ID, id.data(), static_cast<CK_ULONG>(id.size())}});
        return found.size() == 1 ? found[0] : CK_INVALID_HANDLE;
    }

    Bytes value(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_RV* rv_out = nullptr) {
        CK_ATTRIBUTE a{type, nullptr, 0};
        CK_RV rv = p11_.C_GetAttributeValue(s_, h, &a, 1);
        if (rv_out)
            *rv_out = rv;
        if (rv != CKR_OK)
            return {};
        Bytes b(a.ulValueLen);
        a.pValue = b.data();
        p11_.C_GetAttributeValue(s_, h, &a, 1);
        return b;
    }

    void observe_key(const std::string& label) {
        const std::string k = "key." + label + ".";
        const CK_OBJECT_HANDLE priv = object(CKO_PRIVATE_KEY, label);
        const CK_OBJECT_HANDLE pub = object(CKO_PUBLIC_KEY, label);
        const CK_OBJECT_HANDLE cert = object(CKO_CERTIFICATE, label);
        out_[k + "objects"] =
            std::to_string(priv != 0) + std::to_string(pub != 0) + std::to_string(cert != 0);
        for (CK_ATTRIBUTE_TYPE t :
             {CKA_ID, CKA_LABEL, CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS,
              CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE,
              CKA_ALWAYS_AUTHENTICATE, CKA_SIGN, CKA_DECRYPT, CKA_DERIVE, CKA_UNWRAP,
              CKA_SIGN_RECOVER, CKA_PRIVATE, CKA_TOKEN, CKA_CLASS}) {
            CK_RV rv;
            Bytes v = value(priv, t, &rv);
            out_[k + "private." + std::to_string(t)] = rv_text(rv) + " " + text_of(v);
        }
        for (CK_ATTRIBUTE_TYPE t :
             {CKA_ID, CKA_KEY_TYPE, CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT,
              CKA_EC_PARAMS, CKA_EC_POINT, CKA_VERIFY, CKA_ENCRYPT, CKA_PRIVATE, CKA_TOKEN}) {
            CK_RV rv;
            Bytes v = value(pub, t, &rv);
            out_[k + "public." + std::to_string(t)] = rv_text(rv) + " " + text_of(v);
        }
        for (CK_ATTRIBUTE_TYPE t : {CKA_ID, CKA_VALUE, CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER,
                                    CKA_CERTIFICATE_TYPE, CKA_PRIVATE}) {
            CK_RV rv;
            Bytes v = value(cert, t, &rv);
            out_[k + "certificate." + std::to_string(t)] = rv_text(rv) + " " + text_of(v);
        }
        // GetAttributeValue's rules on a mixed template.
        CK_KEY_TYPE type = 0;
        uint8_t small[2];
        CK_ATTRIBUTE sensitive[] = {{CKA_KEY_TYPE, &type, sizeof type},
                                    {CKA_PRIVATE_EXPONENT, nullptr, 0},
                                    {CKA_LABEL, nullptr, 0}};
        const bool rsa = out_[k + "private.256"].find("00000000") != std::string::npos;
        if (!rsa)
            sensitive[1].type = CKA_VALUE;
        out_[k + "mixed.rv"] = rv_text(p11_.C_GetAttributeValue(s_, priv, sensitive, 3));
        out_[k + "mixed.lens"] = std::to_string(sensitive[0].ulValueLen) + "," +
                                 std::to_string(sensitive[1].ulValueLen) + "," +
                                 std::to_string(sensitive[2].ulValueLen);
        CK_ATTRIBUTE too_small{CKA_ID, small, sizeof small};
        out_[k + "small.rv"] = rv_text(p11_.C_GetAttributeValue(s_, priv, &too_small, 1));
        out_[k + "small.len"] = std::to_string(too_small.ulValueLen);
        CK_ATTRIBUTE invalid{rsa ? CKA_VALUE : CKA_MODULUS, nullptr, 0};
        out_[k + "invalid.rv"] = rv_text(p11_.C_GetAttributeValue(s_, priv, &invalid, 1));
    }

    bool verifies(const std::string& label, CK_MECHANISM_TYPE mech, const Bytes& data,
                  const Bytes& sig) {
        EVP_PKEY* key = keys_.at(label).get();
        std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
        Bytes der = sig;
        const EVP_MD* md = mech == CKM_EDDSA ? nullptr : EVP_sha256();
        EVP_PKEY_CTX* pctx = nullptr;
        if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key) != 1)
            return false;
        if (mech == CKM_SHA256_RSA_PKCS_PSS) {
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
        }
        if (mech == CKM_ECDSA_SHA256 || mech == CKM_ECDSA) {
            if (sig.size() != 64)
                return false;
            ECDSA_SIG* s = ECDSA_SIG_new();
            ECDSA_SIG_set0(s, BN_bin2bn(sig.data(), 32, nullptr),
                           BN_bin2bn(sig.data() + 32, 32, nullptr));
            unsigned char* out = nullptr;
            const int len = i2d_ECDSA_SIG(s, &out);
            der.assign(out, out + len);
            OPENSSL_free(out);
            ECDSA_SIG_free(s);
        }
        return EVP_DigestVerify(ctx.get(), der.data(), der.size(), data.data(), data.size()) == 1;
    }

    void sign_checks() {
        const Bytes data = {'d', 'a', 't', 'a'};
        CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
        struct Case {
            const char* label;
            CK_MECHANISM m;
        };
        for (Case c : {Case{"ec-sign", {CKM_ECDSA, nullptr, 0}},
                       Case{"rsa-sign", {CKM_SHA256_RSA_PKCS, nullptr, 0}},
                       Case{"rsa-sign", {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss}},
                       Case{"ed-sign", {CKM_EDDSA, nullptr, 0}}}) {
            const std::string k =
                std::string("sign.") + c.label + "." + std::to_string(c.m.mechanism) + ".";
            const CK_OBJECT_HANDLE key = object(CKO_PRIVATE_KEY, c.label);
            Bytes input = c.m.mechanism == CKM_ECDSA ? p11::digest(p11::Hash::sha256, data) : data;
            record(k + "init", p11_.C_SignInit(s_, &c.m, key));
            CK_ULONG len = 0;
            record(k + "size", p11_.C_Sign(s_, input.data(), input.size(), nullptr, &len));
            out_[k + "len"] = std::to_string(len);
            Bytes sig(len);
            CK_ULONG small = 1;
            record(k + "small", p11_.C_Sign(s_, input.data(), input.size(), sig.data(), &small));
            record(k + "sign", p11_.C_Sign(s_, input.data(), input.size(), sig.data(), &len));
            out_[k + "verifies"] = std::to_string(verifies(
                c.label, c.m.mechanism == CKM_ECDSA ? CKM_ECDSA_SHA256 : c.m.mechanism, data, sig));
            record(k + "after", p11_.C_Sign(s_, input.data(), input.size(), sig.data(), &len));
        }
    }

    // Last: SoftHSM2 leaves an operation started with the wrong key type active.
    void refusal_checks() {
        CK_MECHANISM rsa{CKM_SHA256_RSA_PKCS, nullptr, 0};
        record("sign.not_allowed",
               p11_.C_SignInit(s_, &rsa, object(CKO_PRIVATE_KEY, "rsa-decrypt")));
        CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
        record("sign.wrong_type", p11_.C_SignInit(s_, &ecdsa, object(CKO_PRIVATE_KEY, "rsa-sign")));
    }

    void decrypt_checks() {
        const Bytes plain = {'s', 'e', 'c', 'r', 'e', 't'};
        EVP_PKEY* key = keys_.at("rsa-decrypt").get();
        CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
        for (bool use_oaep : {true, false}) {
            const std::string k = std::string("decrypt.") + (use_oaep ? "oaep." : "pkcs1.");
            std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> ctx(
                EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr), EVP_PKEY_CTX_free);
            EVP_PKEY_encrypt_init(ctx.get());
            EVP_PKEY_CTX_set_rsa_padding(ctx.get(),
                                         use_oaep ? RSA_PKCS1_OAEP_PADDING : RSA_PKCS1_PADDING);
            size_t len = 512;
            Bytes ct(len);
            EVP_PKEY_encrypt(ctx.get(), ct.data(), &len, plain.data(), plain.size());
            ct.resize(len);
            CK_MECHANISM m = use_oaep ? CK_MECHANISM{CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep}
                                      : CK_MECHANISM{CKM_RSA_PKCS, nullptr, 0};
            record(k + "init", p11_.C_DecryptInit(s_, &m, object(CKO_PRIVATE_KEY, "rsa-decrypt")));
            Bytes out(512);
            CK_ULONG out_len = out.size();
            record(k + "decrypt", p11_.C_Decrypt(s_, ct.data(), ct.size(), out.data(), &out_len));
            out.resize(out_len);
            out_[k + "plain"] = std::to_string(out == plain);
        }
    }

    void derive_check() {
        PkeyPtr peer = TestCa::generate_ec_key();
        Bytes point(65);
        size_t plen = 0;
        EVP_PKEY_get_octet_string_param(peer.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                        point.data(), point.size(), &plen);
        std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> ctx(
            EVP_PKEY_CTX_new_from_pkey(nullptr, peer.get(), nullptr), EVP_PKEY_CTX_free);
        EVP_PKEY_derive_init(ctx.get());
        EVP_PKEY_derive_set_peer(ctx.get(), keys_.at("ec-derive").get());
        size_t zlen = 32;
        Bytes z(32);
        EVP_PKEY_derive(ctx.get(), z.data(), &zlen);
        CK_ECDH1_DERIVE_PARAMS params{CKD_NULL, 0, nullptr, point.size(), point.data()};
        CK_MECHANISM m{CKM_ECDH1_DERIVE, &params, sizeof params};
        CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
        CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
        CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &secret, sizeof secret},
                            {CKA_KEY_TYPE, &generic, sizeof generic},
                            {CKA_TOKEN, &no, sizeof no},
                            {CKA_SENSITIVE, &no, sizeof no},
                            {CKA_EXTRACTABLE, &yes, sizeof yes}};
        CK_OBJECT_HANDLE derived = 0;
        record("derive",
               p11_.C_DeriveKey(s_, &m, object(CKO_PRIVATE_KEY, "ec-derive"), t, 5, &derived));
        out_["derive.value"] = std::to_string(value(derived, CKA_VALUE) == z);
        record("derive.destroy", p11_.C_DestroyObject(s_, derived));
    }

    CK_FUNCTION_LIST& p11_;
    CK_SLOT_ID slot_;
    const std::map<std::string, PkeyPtr>& keys_;
    CK_SESSION_HANDLE s_ = 0;
    Observations out_;
};

class DirectVersusForwardedTest : public ForwardingTest {};

TEST_F(DirectVersusForwardedTest, SameChecksSameResults) {
    start_agent();
    agent_.unlock();
    std::map<std::string, PkeyPtr> keys;
    for (const char* label : {"ec-sign", "rsa-sign", "ed-sign", "rsa-decrypt", "ec-derive"})
        keys[label] = public_key(label);

    // SoftHSM2 directly, in this process.
    void* h = dlopen(SoftHsm::module_path().c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(h, nullptr);
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(h, "C_GetFunctionList"));
    CK_FUNCTION_LIST* softhsm = nullptr;
    ASSERT_EQ(get(&softhsm), CKR_OK);
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    const CK_RV init = softhsm->C_Initialize(&args);
    ASSERT_TRUE(init == CKR_OK || init == CKR_CRYPTOKI_ALREADY_INITIALIZED);
#if defined(__SANITIZE_ADDRESS__)
    // SoftHSM2 2.6.1 leaks the ASN1_STRING of an Ed25519 key's curve name: not ours to report.
    __lsan_disable();
#endif
    Observations direct =
        Observer(*softhsm, hsm_slots_.at("alice"), keys).observe(SoftHsm::kUserPin);
#if defined(__SANITIZE_ADDRESS__)
    __lsan_enable();
#endif

    // Through the module: the protected authentication path, no PIN.
    initialize();
    Observations forwarded = Observer(p11(), only_slot(), keys).observe(nullptr);

    // The deliberate differences (docs/protocol.md):
    const std::map<std::string, std::pair<std::string, std::string>> differences = {
        // SoftHSM2 gives its Ed25519 private keys the curve name as a PrintableString, its
        // public keys the OID; the module gives both the OID (from the public key).
        {"key.ed-sign.private.384", {"CKR_OK 130c656477617264733235353139", "CKR_OK 06032b6570"}},
        // The agent is unlocked: the module's login view follows it, so its first session is
        // already a user session (docs/protocol.md, "Login view"); SoftHSM2's is public.
        {"public.private_keys", {"0", "5"}},
        // The module checks the key type at C_SignInit; SoftHSM2 only at C_Sign.
        {"rv.sign.wrong_type", {"CKR_OK", "CKR_KEY_TYPE_INCONSISTENT"}},
    };
    for (const auto& [k, v] : direct) {
        auto it = forwarded.find(k);
        ASSERT_NE(it, forwarded.end()) << k;
        if (auto d = differences.find(k); d != differences.end()) {
            EXPECT_EQ(v, d->second.first) << k;
            EXPECT_EQ(it->second, d->second.second) << k;
            continue;
        }
        EXPECT_EQ(it->second, v) << k;
    }
    EXPECT_EQ(direct.size(), forwarded.size());
    // Everything worked in the first place.
    EXPECT_EQ(direct["decrypt.oaep.plain"], "1");
    EXPECT_EQ(direct["derive.value"], "1");
    EXPECT_EQ(direct["sign.ed-sign.4183.verifies"], "1");
}

}  // namespace
}  // namespace attache::testing
