#include "pkcs11/forwarding/key_objects.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <optional>

#include "pkcs11/public_key.h"

namespace attache::forwarding {
namespace {

using protocol::KeyType;

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct BnFree {
    void operator()(BIGNUM* b) const { BN_free(b); }
};

template <typename T, int (*Encode)(const T*, unsigned char**)>
Bytes der_of(const T* value) {
    if (value == nullptr)
        return {};
    unsigned char* out = nullptr;
    const int len = Encode(value, &out);
    if (len <= 0 || out == nullptr)
        return {};
    Bytes b(out, out + len);
    OPENSSL_free(out);
    return b;
}

struct X509PubkeyFree {
    void operator()(X509_PUBKEY* k) const { X509_PUBKEY_free(k); }
};
struct SeqFree {
    void operator()(ASN1_SEQUENCE_ANY* s) const { sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free); }
};

// The parts of a SubjectPublicKeyInfo, read from its structure alone: no EVP_PKEY getters,
// which fail for keys an application's engine (libp11's, set as default) has taken over.
struct SpkiParts {
    int algorithm = NID_undef;
    int curve = NID_undef;  // EC: the named curve
    Bytes key_bits;         // the subjectPublicKey BIT STRING's content
};

Result<SpkiParts> spki_parts(const Bytes& spki) {
    const unsigned char* p = spki.data();
    std::unique_ptr<X509_PUBKEY, X509PubkeyFree> pub(
        d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
    if (!pub)
        return Error("not a DER SubjectPublicKeyInfo");
    ASN1_OBJECT* alg = nullptr;
    const unsigned char* bits = nullptr;
    int bits_len = 0;
    X509_ALGOR* algor = nullptr;
    if (X509_PUBKEY_get0_param(&alg, &bits, &bits_len, &algor, pub.get()) != 1 || bits == nullptr ||
        bits_len <= 0) {
        return Error("the SubjectPublicKeyInfo has no key");
    }
    SpkiParts parts;
    parts.algorithm = OBJ_obj2nid(alg);
    parts.key_bits.assign(bits, bits + bits_len);
    if (parts.algorithm == NID_X9_62_id_ecPublicKey && algor != nullptr) {
        int ptype = 0;
        const void* pval = nullptr;
        X509_ALGOR_get0(nullptr, &ptype, &pval, algor);
        if (ptype != V_ASN1_OBJECT || pval == nullptr)
            return Error("the EC key has no named curve");
        parts.curve = OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(pval));
    }
    return parts;
}

Bytes integer_bytes(const ASN1_TYPE* t) {
    if (t == nullptr || t->type != V_ASN1_INTEGER)
        return {};
    std::unique_ptr<BIGNUM, BnFree> bn(ASN1_INTEGER_to_BN(t->value.integer, nullptr));
    if (!bn || BN_is_negative(bn.get()) || BN_is_zero(bn.get()))
        return {};
    Bytes out(static_cast<size_t>(BN_num_bytes(bn.get())));
    BN_bn2bin(bn.get(), out.data());
    return out;
}

// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
Result<std::pair<Bytes, Bytes>> rsa_values(const Bytes& key_bits) {
    const unsigned char* p = key_bits.data();
    std::unique_ptr<ASN1_SEQUENCE_ANY, SeqFree> seq(
        d2i_ASN1_SEQUENCE_ANY(nullptr, &p, static_cast<long>(key_bits.size())));
    if (!seq || p != key_bits.data() + key_bits.size() || sk_ASN1_TYPE_num(seq.get()) != 2)
        return Error("not an RSA public key");
    Bytes n = integer_bytes(sk_ASN1_TYPE_value(seq.get(), 0));
    Bytes e = integer_bytes(sk_ASN1_TYPE_value(seq.get(), 1));
    if (n.empty() || e.empty())
        return Error("not an RSA public key");
    return std::pair{std::move(n), std::move(e)};
}

size_t curve_field_bytes(int nid) {
    switch (nid) {
        case NID_X9_62_prime256v1:
            return 32;
        case NID_secp384r1:
            return 48;
        case NID_secp521r1:
            return 66;
        default:
            return 0;
    }
}

Bytes check_value(const Bytes& der) {
    uint8_t digest[SHA_DIGEST_LENGTH];
    SHA1(der.data(), der.size(), digest);
    return Bytes(digest, digest + 3);
}

void set_common(AttributeSet& a, CK_OBJECT_CLASS klass, const std::string& label,
                const Bytes& cka_id, bool is_private) {
    a.set_ulong(CKA_CLASS, klass)
        .set_bool(CKA_TOKEN, true)
        .set_bool(CKA_PRIVATE, is_private)
        .set_bool(CKA_MODIFIABLE, false)
        .set_bool(CKA_COPYABLE, false)
        .set_bool(CKA_DESTROYABLE, false)
        .set_string(CKA_LABEL, label)
        .set_bytes(CKA_ID, cka_id);
}

CK_KEY_TYPE ck_key_type(KeyType t) {
    switch (t) {
        case KeyType::rsa:
            return CKK_RSA;
        case KeyType::ec:
            return CKK_EC;
        case KeyType::ed25519:
            return CKK_EC_EDWARDS;
    }
    return CKK_VENDOR_DEFINED;
}

struct PublicValues {
    Bytes modulus, exponent, ec_params, ec_point;
};

Result<PublicValues> public_values(const PublicKeyInfo& key, const Bytes& spki) {
    ATTACHE_TRY(SpkiParts parts, spki_parts(spki));
    PublicValues v;
    switch (key.type) {
        case KeyType::rsa: {
            ATTACHE_TRY(auto ne, rsa_values(parts.key_bits));
            v.modulus = std::move(ne.first);
            v.exponent = std::move(ne.second);
            break;
        }
        case KeyType::ec: {
            v.ec_params = der_of<ASN1_OBJECT, i2d_ASN1_OBJECT>(OBJ_nid2obj(parts.curve));
            if (v.ec_params.empty())
                return Error("cannot encode the curve's OID");
            v.ec_point = der_octet_string(parts.key_bits);
            break;
        }
        case KeyType::ed25519: {
            if (parts.key_bits.size() != 32)
                return Error("the Ed25519 key has no public value");
            v.ec_params = p11::ec_params_ed25519();
            v.ec_point = der_octet_string(parts.key_bits);
            break;
        }
    }
    return v;
}

void set_key_values(AttributeSet& a, KeyType type, const PublicValues& v) {
    if (type == KeyType::rsa) {
        a.set_bytes(CKA_MODULUS, v.modulus).set_bytes(CKA_PUBLIC_EXPONENT, v.exponent);
    } else {
        a.set_bytes(CKA_EC_PARAMS, v.ec_params);
    }
}

struct CertificateValues {
    Bytes subject, issuer, serial;
};

Result<CertificateValues> certificate_values(const Bytes& der) {
    const unsigned char* p = der.data();
    std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert || p != der.data() + der.size())
        return Error("not a DER X.509 certificate");
    CertificateValues v;
    v.subject = der_of<X509_NAME, i2d_X509_NAME>(X509_get_subject_name(cert.get()));
    v.issuer = der_of<X509_NAME, i2d_X509_NAME>(X509_get_issuer_name(cert.get()));
    v.serial = der_of<ASN1_INTEGER, i2d_ASN1_INTEGER>(X509_get0_serialNumber(cert.get()));
    if (v.subject.empty() || v.issuer.empty() || v.serial.empty())
        return Error("the certificate lacks a subject, issuer or serial number");
    return v;
}

// PKCS#11 2.40, 4.6.2: 1 token user, 2 authority.
constexpr CK_ULONG kCategoryUser = 1;
constexpr CK_ULONG kCategoryAuthority = 2;

ObjectSpec certificate_object(const std::string& label, const Bytes& cka_id, const Bytes& der,
                              const CertificateValues& values, CK_ULONG category) {
    ObjectSpec c;
    c.klass = CKO_CERTIFICATE;
    AttributeSet& a = c.attributes;
    set_common(a, CKO_CERTIFICATE, label, cka_id, false);
    a.set_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
        .set_bool(CKA_TRUSTED, false)
        .set_ulong(CKA_CERTIFICATE_CATEGORY, category)
        .set_bytes(CKA_CHECK_VALUE, check_value(der))
        .set_bytes(CKA_START_DATE, {})
        .set_bytes(CKA_END_DATE, {})
        .set_bytes(CKA_SUBJECT, values.subject)
        .set_bytes(CKA_ISSUER, values.issuer)
        .set_bytes(CKA_SERIAL_NUMBER, values.serial)
        .set_bytes(CKA_VALUE, der)
        .set_bytes(CKA_URL, {})
        .set_bytes(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, {})
        .set_bytes(CKA_HASH_OF_ISSUER_PUBLIC_KEY, {})
        .set_ulong(CKA_JAVA_MIDP_SECURITY_DOMAIN, 0);
    return c;
}

}  // namespace

Bytes der_octet_string(const Bytes& content) {
    Bytes out{0x04};
    const size_t n = content.size();
    if (n < 0x80) {
        out.push_back(static_cast<uint8_t>(n));
    } else if (n <= 0xff) {
        out.insert(out.end(), {0x81, static_cast<uint8_t>(n)});
    } else {
        out.insert(out.end(), {0x82, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
    }
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

Bytes der_octet_string_content(const uint8_t* der, size_t size) {
    if (der == nullptr || size < 2 || der[0] != 0x04)
        return {};
    size_t len = der[1];
    size_t header = 2;
    if (len == 0x81) {
        if (size < 3 || der[2] < 0x80)
            return {};
        len = der[2];
        header = 3;
    } else if (len == 0x82) {
        if (size < 4)
            return {};
        len = (size_t{der[2]} << 8) | der[3];
        if (len < 0x100)
            return {};
        header = 4;
    } else if (len >= 0x80) {
        return {};
    }
    if (header + len != size)
        return {};
    return Bytes(der + header, der + size);
}

Result<PublicKeyInfo> parse_public_key(const Bytes& spki) {
    if (spki.empty())
        return Error("no public key");
    ATTACHE_TRY(SpkiParts parts, spki_parts(spki));
    PublicKeyInfo info;
    switch (parts.algorithm) {
        case NID_rsaEncryption: {
            info.type = KeyType::rsa;
            ATTACHE_TRY(auto ne, rsa_values(parts.key_bits));
            std::unique_ptr<BIGNUM, BnFree> n(
                BN_bin2bn(ne.first.data(), static_cast<int>(ne.first.size()), nullptr));
            const int bits = n ? BN_num_bits(n.get()) : 0;
            if (bits < 1024 || bits > 16384)
                return Error("RSA key of " + std::to_string(bits) + " bits");
            info.bits = static_cast<uint32_t>(bits);
            info.field_bytes = (info.bits + 7) / 8;
            break;
        }
        case NID_X9_62_id_ecPublicKey: {
            info.type = KeyType::ec;
            info.field_bytes = curve_field_bytes(parts.curve);
            if (info.field_bytes == 0)
                return Error("unsupported curve");
            if (parts.key_bits.size() != 2 * info.field_bytes + 1 || parts.key_bits[0] != 0x04)
                return Error("the EC point is not uncompressed");
            info.bits = parts.curve == NID_secp521r1 ? 521 : 8 * info.field_bytes;
            break;
        }
        case NID_ED25519:
            info.type = KeyType::ed25519;
            if (parts.key_bits.size() != 32)
                return Error("the Ed25519 key has no public value");
            info.field_bytes = 32;
            info.bits = 255;
            break;
        default:
            return Error("unsupported public key algorithm");
    }
    // For verification in the module (C_Verify*).
    auto pkey = p11::pkey_from_spki(spki);
    if (!pkey)
        return std::move(pkey).error();
    info.pkey = std::shared_ptr<EVP_PKEY>(pkey->release(), EVP_PKEY_free);
    return info;
}

size_t signature_size(const PublicKeyInfo& key) {
    switch (key.type) {
        case KeyType::rsa:
            return key.field_bytes;
        case KeyType::ec:
            return 2 * key.field_bytes;
        case KeyType::ed25519:
            return 64;
    }
    return 0;
}

Result<KeyObjects> build_key_objects(const protocol::KeyEntry& e) {
    if (e.id.empty())
        return Error("a key without an id");
    ATTACHE_TRY(PublicKeyInfo key, parse_public_key(e.spki));
    if (key.type != e.type)
        return Error("key " + e.id + ": its public key is not of the type the agent reports");
    ATTACHE_TRY(PublicValues values, public_values(key, e.spki));

    KeyObjects out;
    out.key_id = e.id;
    out.key = key;
    out.operations = e.served ? e.operations : 0;
    out.always_authenticate = e.always_authenticate;
    out.decrypt_support = e.decrypt_support;

    Bytes subject;
    std::optional<CertificateValues> cert;
    if (!e.certificate.empty()) {
        if (auto c = certificate_values(e.certificate)) {
            cert = std::move(*c);
            subject = cert->subject;
        }
    }
    const CK_KEY_TYPE key_type = ck_key_type(key.type);
    const bool sign = out.operations & protocol::kOpSign;
    const bool decrypt = out.operations & protocol::kOpDecrypt;
    const bool derive = out.operations & protocol::kOpDerive;

    if (e.served) {
        ObjectSpec priv;
        priv.klass = CKO_PRIVATE_KEY;
        priv.is_private = true;
        AttributeSet& a = priv.attributes;
        set_common(a, CKO_PRIVATE_KEY, e.label, e.cka_id, true);
        a.set_ulong(CKA_KEY_TYPE, key_type)
            .set_bytes(CKA_START_DATE, {})
            .set_bytes(CKA_END_DATE, {})
            .set_bytes(CKA_SUBJECT, subject)
            .set_bool(CKA_SENSITIVE, true)
            .set_bool(CKA_ALWAYS_SENSITIVE, true)
            .set_bool(CKA_EXTRACTABLE, false)
            .set_bool(CKA_NEVER_EXTRACTABLE, true)
            .set_bool(CKA_SIGN, sign)
            .set_bool(CKA_SIGN_RECOVER, false)
            .set_bool(CKA_DECRYPT, decrypt)
            .set_bool(CKA_UNWRAP, false)
            .set_bool(CKA_DERIVE, derive)
            .set_bool(CKA_WRAP_WITH_TRUSTED, false)
            .set_bool(CKA_ALWAYS_AUTHENTICATE, e.always_authenticate)
            .set_bytes(CKA_PUBLIC_KEY_INFO, e.spki);
        set_key_values(a, key.type, values);
        if (key.type == KeyType::rsa) {
            for (CK_ATTRIBUTE_TYPE t : {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
                                        CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT}) {
                a.set_sensitive(t);
            }
        } else {
            a.set_sensitive(CKA_VALUE);
        }
        out.objects.push_back(std::move(priv));
    }

    ObjectSpec pub;
    pub.klass = CKO_PUBLIC_KEY;
    AttributeSet& p = pub.attributes;
    set_common(p, CKO_PUBLIC_KEY, e.label, e.cka_id, false);
    p.set_ulong(CKA_KEY_TYPE, key_type)
        .set_bytes(CKA_START_DATE, {})
        .set_bytes(CKA_END_DATE, {})
        .set_bytes(CKA_SUBJECT, subject)
        .set_bool(CKA_VERIFY, sign)
        .set_bool(CKA_VERIFY_RECOVER, false)
        .set_bool(CKA_ENCRYPT, decrypt)
        .set_bool(CKA_WRAP, false)
        .set_bool(CKA_DERIVE, derive)
        .set_bool(CKA_TRUSTED, false)
        .set_bytes(CKA_PUBLIC_KEY_INFO, e.spki);
    set_key_values(p, key.type, values);
    if (key.type == KeyType::rsa) {
        p.set_ulong(CKA_MODULUS_BITS, key.bits);
    } else {
        p.set_bytes(CKA_EC_POINT, values.ec_point);
    }
    out.objects.push_back(std::move(pub));

    if (cert) {
        out.objects.push_back(
            certificate_object(e.certificate_label, e.cka_id, e.certificate, *cert, kCategoryUser));
    }
    return out;
}

Result<ObjectSpec> build_authority_object(const protocol::AuthorityCertificate& authority) {
    auto values = certificate_values(authority.certificate);
    if (!values)
        return Error("an authority certificate that does not parse");
    return certificate_object(authority.label, authority.cka_id, authority.certificate, *values,
                              kCategoryAuthority);
}

}  // namespace attache::forwarding
