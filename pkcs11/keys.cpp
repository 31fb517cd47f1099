#include "pkcs11/keys.h"

#include <cstring>
#include <map>

namespace attache::p11 {
namespace {

constexpr CK_ATTRIBUTE_TYPE kPrivateAttributes[] = {CKA_ID,
                                                    CKA_LABEL,
                                                    CKA_KEY_TYPE,
                                                    CKA_SIGN,
                                                    CKA_DECRYPT,
                                                    CKA_DERIVE,
                                                    CKA_ALWAYS_AUTHENTICATE,
                                                    CKA_SENSITIVE,
                                                    CKA_EXTRACTABLE,
                                                    CKA_NEVER_EXTRACTABLE,
                                                    CKA_ALWAYS_SENSITIVE,
                                                    CKA_LOCAL,
                                                    CKA_MODULUS,
                                                    CKA_PUBLIC_EXPONENT,
                                                    CKA_EC_PARAMS};

// The filter restricted to `klass`; nullopt when the filter names another class (a URI with
// type=public or type=cert must not turn public keys or certificates into "private keys").
std::optional<AttributeTemplate> with_class(const AttributeTemplate& filter,
                                            CK_OBJECT_CLASS klass) {
    AttributeTemplate t = filter;
    for (CK_ULONG i = 0; i < t.size(); ++i) {
        const CK_ATTRIBUTE& a = t.data()[i];
        if (a.type != CKA_CLASS)
            continue;
        CK_OBJECT_CLASS named = 0;
        if (a.ulValueLen != sizeof named)
            return std::nullopt;
        std::memcpy(&named, a.pValue, sizeof named);
        if (named != klass)
            return std::nullopt;
    }
    if (!t.contains(CKA_CLASS))
        t.add_ulong(CKA_CLASS, klass);
    return t;
}

// Public keys and certificates on the token, by CKA_ID.
struct Companions {
    std::map<Bytes, CK_OBJECT_HANDLE> public_keys;
    std::map<Bytes, CK_OBJECT_HANDLE> certificates;
};

Result<std::map<Bytes, CK_OBJECT_HANDLE>> by_id(const Session& session, CK_OBJECT_CLASS klass) {
    AttributeTemplate t;
    t.add_ulong(CKA_CLASS, klass);
    ATTACHE_TRY(auto handles, session.find(t));
    std::map<Bytes, CK_OBJECT_HANDLE> out;
    for (CK_OBJECT_HANDLE h : handles) {
        ATTACHE_TRY(AttributeValues v, session.read(h, {CKA_ID}));
        if (const Bytes* id = v.bytes(CKA_ID); id && !id->empty())
            out.emplace(*id, h);
    }
    return out;
}

}  // namespace

Result<std::vector<KeyObject>> find_keys(const Session& session, const AttributeTemplate& filter) {
    std::vector<KeyObject> keys;
    std::optional<AttributeTemplate> priv_filter = with_class(filter, CKO_PRIVATE_KEY);
    if (!priv_filter)
        return keys;
    ATTACHE_TRY(auto handles, session.find(std::move(*priv_filter)));
    if (handles.empty())
        return keys;

    ATTACHE_TRY(auto public_keys, by_id(session, CKO_PUBLIC_KEY));
    ATTACHE_TRY(auto certificates, by_id(session, CKO_CERTIFICATE));

    for (CK_OBJECT_HANDLE h : handles) {
        ATTACHE_TRY(AttributeValues v, session.read(h, kPrivateAttributes));
        KeyObject k;
        k.private_key = h;
        if (const Bytes* id = v.bytes(CKA_ID))
            k.id = *id;
        k.label = v.string(CKA_LABEL).value_or("");
        k.key_type = v.ulong(CKA_KEY_TYPE).value_or(CKK_VENDOR_DEFINED);
        k.can_sign = v.flag(CKA_SIGN);
        k.can_decrypt = v.flag(CKA_DECRYPT);
        k.can_derive = v.flag(CKA_DERIVE);
        k.always_authenticate = v.flag(CKA_ALWAYS_AUTHENTICATE);
        k.sensitive = v.flag(CKA_SENSITIVE);
        k.extractable = v.boolean(CKA_EXTRACTABLE).value_or(true);
        k.never_extractable = v.flag(CKA_NEVER_EXTRACTABLE);
        k.always_sensitive = v.flag(CKA_ALWAYS_SENSITIVE);
        k.local = v.flag(CKA_LOCAL);

        if (!k.id.empty()) {
            if (auto it = public_keys.find(k.id); it != public_keys.end()) {
                k.public_key = it->second;
            }
            if (auto it = certificates.find(k.id); it != certificates.end()) {
                k.certificate = it->second;
            }
        }

        // The public key: from the public-key object, else the certificate, else the private
        // key's own public components (RSA private keys carry the modulus).
        Result<Pkey> pkey = Error("no public key found");
        if (k.public_key) {
            ATTACHE_TRY(AttributeValues pv, session.read(*k.public_key, kPublicKeyAttributes));
            pkey = public_key_from(pv);
        }
        if (k.certificate) {
            auto der = session.read_bytes(*k.certificate, CKA_VALUE);
            if (der) {
                k.certificate_der = std::move(*der);
                if (!pkey)
                    pkey = certificate_public_key(k.certificate_der);
            }
        }
        if (!pkey && k.key_type == CKK_RSA)
            pkey = public_key_from(v);
        if (pkey) {
            k.bits = key_bits(pkey->get());
            if (auto spki = spki_der(pkey->get()))
                k.spki = std::move(*spki);
            k.pkey = std::shared_ptr<EVP_PKEY>(pkey->release(), EVP_PKEY_free);
        }
        keys.push_back(std::move(k));
    }
    return keys;
}

}  // namespace attache::p11
