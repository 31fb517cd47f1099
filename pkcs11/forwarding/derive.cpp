#include "pkcs11/forwarding/derive.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

#include "pkcs11/forwarding/key_objects.h"

namespace attache::forwarding {
namespace {

// A derived key never exceeds this (an AES-256 key is 32 bytes).
constexpr size_t kMaxDerivedKey = 1024;
constexpr size_t kMaxSharedData = 4096;

const EVP_MD* kdf_md(CK_ULONG kdf) {
    switch (kdf) {
        case CKD_SHA1_KDF:
            return EVP_sha1();
        case CKD_SHA224_KDF:
            return EVP_sha224();
        case CKD_SHA256_KDF:
            return EVP_sha256();
        case CKD_SHA384_KDF:
            return EVP_sha384();
        case CKD_SHA512_KDF:
            return EVP_sha512();
        default:
            return nullptr;
    }
}

size_t fixed_length(CK_KEY_TYPE type) {
    switch (type) {
        case CKK_DES:
            return 8;
        case CKK_DES2:
            return 16;
        case CKK_DES3:
            return 24;
        default:
            return 0;
    }
}

}  // namespace

CK_RV parse_ecdh_mechanism(const CK_MECHANISM& m, size_t field_bytes, EcdhSpec& out) {
    if (m.mechanism != CKM_ECDH1_DERIVE)
        return CKR_MECHANISM_INVALID;
    if (m.pParameter == nullptr || m.ulParameterLen != sizeof(CK_ECDH1_DERIVE_PARAMS))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_ECDH1_DERIVE_PARAMS p;
    std::memcpy(&p, m.pParameter, sizeof p);
    if (p.kdf != CKD_NULL && kdf_md(p.kdf) == nullptr)
        return CKR_MECHANISM_PARAM_INVALID;
    if (p.ulSharedDataLen > 0) {
        if (p.kdf == CKD_NULL || p.pSharedData == nullptr || p.ulSharedDataLen > kMaxSharedData)
            return CKR_MECHANISM_PARAM_INVALID;
        out.shared_data.assign(p.pSharedData, p.pSharedData + p.ulSharedDataLen);
    }
    if (p.pPublicData == nullptr || p.ulPublicDataLen == 0 || p.ulPublicDataLen > 1024)
        return CKR_MECHANISM_PARAM_INVALID;
    const size_t want = 2 * field_bytes + 1;
    Bytes point(p.pPublicData, p.pPublicData + p.ulPublicDataLen);
    if (point.size() != want || point[0] != 0x04) {
        // Some applications pass CKA_EC_POINT's DER OCTET STRING.
        point = der_octet_string_content(p.pPublicData, p.ulPublicDataLen);
    }
    if (point.size() != want || point[0] != 0x04)
        return CKR_MECHANISM_PARAM_INVALID;
    out.peer_point = std::move(point);
    out.kdf = p.kdf;
    return CKR_OK;
}

CK_RV parse_derived_template(const CK_ATTRIBUTE* templ, CK_ULONG count, bool kdf,
                             DerivedKeyTemplate& out) {
    if (templ == nullptr && count > 0)
        return CKR_ARGUMENTS_BAD;
    bool sensitive = false;
    bool extractable = true;
    bool is_private = true;
    AttributeSet& a = out.attributes;
    a.set_bytes(CKA_LABEL, {}).set_bytes(CKA_ID, {});
    for (CK_ULONG i = 0; i < count; ++i) {
        const CK_ATTRIBUTE& t = templ[i];
        CK_ULONG ul = 0;
        bool b = false;
        switch (t.type) {
            case CKA_CLASS:
                if (!template_ulong(t, ul))
                    return CKR_ATTRIBUTE_VALUE_INVALID;
                if (ul != CKO_SECRET_KEY)
                    return CKR_TEMPLATE_INCONSISTENT;
                break;
            case CKA_KEY_TYPE:
                if (!template_ulong(t, ul))
                    return CKR_ATTRIBUTE_VALUE_INVALID;
                out.key_type = ul;
                break;
            case CKA_VALUE_LEN:
                if (!template_ulong(t, ul) || ul == 0 || ul > kMaxDerivedKey)
                    return CKR_ATTRIBUTE_VALUE_INVALID;
                out.value_len = ul;
                break;
            case CKA_TOKEN:
                if (!template_bool(t, b))
                    return CKR_ATTRIBUTE_VALUE_INVALID;
                if (b)  // nothing is ever written to the card through the module
                    return CKR_ATTRIBUTE_VALUE_INVALID;
                break;
            case CKA_PRIVATE:
                if (!template_bool(t, is_private))
                    return CKR_ATTRIBUTE_VALUE_INVALID;
                break;
            case CKA_SENSITIVE:
                if (!template_bool(t, sensitive))
                    return CKR_ATTRIBUTE_VALUE_INVALID;
                break;
            case CKA_EXTRACTABLE:
                if (!template_bool(t, extractable))
                    return CKR_ATTRIBUTE_VALUE_INVALID;
                break;
            case CKA_ENCRYPT:
            case CKA_DECRYPT:
            case CKA_WRAP:
            case CKA_UNWRAP:
            case CKA_SIGN:
            case CKA_VERIFY:
            case CKA_DERIVE:
            case CKA_MODIFIABLE:
            case CKA_COPYABLE:
            case CKA_DESTROYABLE:
                if (!template_bool(t, b))
                    return CKR_ATTRIBUTE_VALUE_INVALID;
                a.set_bool(t.type, b);
                break;
            case CKA_LABEL:
            case CKA_ID:
                if ((t.pValue == nullptr && t.ulValueLen > 0) || t.ulValueLen > 4096)
                    return CKR_ATTRIBUTE_VALUE_INVALID;
                a.set_bytes(t.type,
                            t.ulValueLen == 0
                                ? Bytes{}
                                : Bytes(static_cast<const uint8_t*>(t.pValue),
                                        static_cast<const uint8_t*>(t.pValue) + t.ulValueLen));
                break;
            default:
                return CKR_ATTRIBUTE_TYPE_INVALID;
        }
    }
    if (const size_t fixed = fixed_length(out.key_type)) {
        if (out.value_len != 0 && out.value_len != fixed)
            return CKR_TEMPLATE_INCONSISTENT;
        out.value_len = fixed;
    } else if (out.key_type == CKK_AES) {
        if (out.value_len != 16 && out.value_len != 24 && out.value_len != 32)
            return out.value_len == 0 ? CKR_TEMPLATE_INCOMPLETE : CKR_ATTRIBUTE_VALUE_INVALID;
    } else if (out.key_type != CKK_GENERIC_SECRET) {
        return CKR_TEMPLATE_INCONSISTENT;
    }
    if (kdf && out.value_len == 0)
        return CKR_TEMPLATE_INCOMPLETE;
    for (CK_ATTRIBUTE_TYPE t :
         {CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_VERIFY, CKA_DERIVE}) {
        if (!a.has(t))
            a.set_bool(t, false);
    }
    a.set_bool(CKA_MODIFIABLE, false)
        .set_bool(CKA_COPYABLE, false)
        .set_bool(CKA_DESTROYABLE, true)
        .set_ulong(CKA_CLASS, CKO_SECRET_KEY)
        .set_ulong(CKA_KEY_TYPE, out.key_type)
        .set_bool(CKA_TOKEN, false)
        .set_bool(CKA_PRIVATE, is_private)
        .set_bool(CKA_SENSITIVE, sensitive)
        .set_bool(CKA_EXTRACTABLE, extractable)
        .set_bool(CKA_ALWAYS_SENSITIVE, false)
        .set_bool(CKA_NEVER_EXTRACTABLE, false)
        .set_bool(CKA_LOCAL, false)
        .set_ulong(CKA_KEY_GEN_MECHANISM, CKM_ECDH1_DERIVE)
        .set_bytes(CKA_START_DATE, {})
        .set_bytes(CKA_END_DATE, {});
    return CKR_OK;
}

CK_RV derive_value(const EcdhSpec& spec, const Bytes& secret, size_t value_len, Bytes& out) {
    if (spec.kdf == CKD_NULL) {
        if (value_len == 0) {
            out = secret;
            return CKR_OK;
        }
        if (value_len > secret.size())
            return CKR_KEY_SIZE_RANGE;
        out.assign(secret.end() - static_cast<std::ptrdiff_t>(value_len), secret.end());
        return CKR_OK;
    }
    const EVP_MD* md = kdf_md(spec.kdf);
    if (md == nullptr || value_len == 0)
        return CKR_TEMPLATE_INCOMPLETE;
    // ANSI X9.63: K = Hash(Z || counter || SharedInfo) for counter = 1, 2, ... (big-endian u32).
    out.clear();
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx)
        return CKR_HOST_MEMORY;
    for (uint32_t counter = 1; out.size() < value_len; ++counter) {
        const uint8_t c[4] = {static_cast<uint8_t>(counter >> 24),
                              static_cast<uint8_t>(counter >> 16),
                              static_cast<uint8_t>(counter >> 8), static_cast<uint8_t>(counter)};
        unsigned char block[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
            EVP_DigestUpdate(ctx.get(), secret.data(), secret.size()) != 1 ||
            EVP_DigestUpdate(ctx.get(), c, sizeof c) != 1 ||
            (!spec.shared_data.empty() &&
             EVP_DigestUpdate(ctx.get(), spec.shared_data.data(), spec.shared_data.size()) != 1) ||
            EVP_DigestFinal_ex(ctx.get(), block, &len) != 1) {
            OPENSSL_cleanse(out.data(), out.size());
            return CKR_FUNCTION_FAILED;
        }
        const size_t take = std::min<size_t>(len, value_len - out.size());
        out.insert(out.end(), block, block + take);
        OPENSSL_cleanse(block, sizeof block);
    }
    return CKR_OK;
}

AttributeSet secret_key_attributes(const DerivedKeyTemplate& templ, Bytes value) {
    AttributeSet a = templ.attributes;
    a.hold_secret();
    a.set_ulong(CKA_VALUE_LEN, value.size());
    const bool readable = !a.flag(CKA_SENSITIVE) && a.flag(CKA_EXTRACTABLE);
    if (readable) {
        a.set_bytes(CKA_VALUE, std::move(value));
    } else {
        OPENSSL_cleanse(value.data(), value.size());
        a.set_sensitive(CKA_VALUE);
    }
    return a;
}

}  // namespace attache::forwarding
