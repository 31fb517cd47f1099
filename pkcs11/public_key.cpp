#include "pkcs11/public_key.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace attache::p11 {
namespace {

struct BnFree {
    void operator()(BIGNUM* b) const { BN_free(b); }
};
struct ParamBldFree {
    void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct CtxFree {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

Result<Pkey> from_params(const char* type, OSSL_PARAM_BLD* bld) {
    std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
    std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* key = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
        return Error(std::string("OpenSSL rejected the ") + type + " public key");
    }
    return Pkey(key);
}

size_t field_bytes_for(int nid) {
    switch (nid) {
        case NID_X9_62_prime256v1:
            return 32;
        case NID_secp384r1:
            return 48;
        case NID_secp521r1:
            return 66;
        case NID_ED25519:
            return 32;
        default:
            return 0;
    }
}

bool plausible_point(const Bytes& p, size_t field_bytes, bool edwards) {
    if (edwards)
        return p.size() == field_bytes;
    return (p.size() == 2 * field_bytes + 1 && p[0] == 0x04) ||
           (p.size() == field_bytes + 1 && (p[0] == 0x02 || p[0] == 0x03));
}

}  // namespace

Bytes ec_params_p256() {
    return {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
}
Bytes ec_params_p384() {
    return {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
}
Bytes ec_params_ed25519() {
    return {0x06, 0x03, 0x2b, 0x65, 0x70};
}

Result<int> curve_nid(const Bytes& ec_params) {
    if (ec_params.empty())
        return Error("empty CKA_EC_PARAMS");
    if (ec_params[0] == 0x13) {
        // PrintableString curve name, used by some modules for Edwards curves.
        std::string name(ec_params.begin() + std::min<size_t>(2, ec_params.size()),
                         ec_params.end());
        if (name == "edwards25519")
            return NID_ED25519;
        return Error("unsupported curve '" + name + "'");
    }
    const unsigned char* p = ec_params.data();
    ASN1_OBJECT* obj = d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(ec_params.size()));
    if (obj == nullptr || p != ec_params.data() + ec_params.size()) {
        ASN1_OBJECT_free(obj);
        return Error("CKA_EC_PARAMS is not a DER object identifier");
    }
    int nid = OBJ_obj2nid(obj);
    ASN1_OBJECT_free(obj);
    if (field_bytes_for(nid) == 0) {
        return Error("unsupported curve (nid " + std::to_string(nid) + ")");
    }
    return nid;
}

Result<Bytes> unwrap_ec_point(const Bytes& ec_point, size_t field_bytes) {
    const bool edwards = false;
    if (!ec_point.empty() && ec_point[0] == 0x04) {
        const unsigned char* p = ec_point.data();
        ASN1_OCTET_STRING* os =
            d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(ec_point.size()));
        if (os != nullptr && p == ec_point.data() + ec_point.size()) {
            Bytes inner(os->data, os->data + os->length);
            ASN1_OCTET_STRING_free(os);
            if (inner.size() == field_bytes || plausible_point(inner, field_bytes, edwards)) {
                return inner;
            }
        } else {
            ASN1_OCTET_STRING_free(os);
        }
    }
    if (ec_point.size() == field_bytes || plausible_point(ec_point, field_bytes, edwards)) {
        return ec_point;  // bare point
    }
    return Error("CKA_EC_POINT is neither a DER OCTET STRING nor a point");
}

Result<Pkey> rsa_public_key(const Bytes& modulus, const Bytes& exponent) {
    std::unique_ptr<BIGNUM, BnFree> n(
        BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr));
    std::unique_ptr<BIGNUM, BnFree> e(
        BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr));
    std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
    if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
        return Error("cannot build an RSA public key");
    }
    return from_params("RSA", bld.get());
}

Result<Pkey> ec_public_key(const Bytes& ec_params, const Bytes& ec_point) {
    ATTACHE_TRY(int nid, curve_nid(ec_params));
    ATTACHE_TRY(Bytes point, unwrap_ec_point(ec_point, field_bytes_for(nid)));
    if (nid == NID_ED25519) {
        EVP_PKEY* key =
            EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, point.data(), point.size());
        if (key == nullptr)
            return Error("OpenSSL rejected the Ed25519 public key");
        return Pkey(key);
    }
    std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid),
                                         0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size())) {
        return Error("cannot build an EC public key");
    }
    return from_params("EC", bld.get());
}

Result<Pkey> public_key_from(const AttributeValues& values) {
    auto type = values.ulong(CKA_KEY_TYPE);
    if (!type)
        return Error("object has no readable CKA_KEY_TYPE");
    if (*type == CKK_RSA) {
        const Bytes* n = values.bytes(CKA_MODULUS);
        const Bytes* e = values.bytes(CKA_PUBLIC_EXPONENT);
        if (!n || !e)
            return Error("RSA key without CKA_MODULUS or CKA_PUBLIC_EXPONENT");
        return rsa_public_key(*n, *e);
    }
    if (*type == CKK_EC || *type == CKK_EC_EDWARDS) {
        const Bytes* params = values.bytes(CKA_EC_PARAMS);
        const Bytes* point = values.bytes(CKA_EC_POINT);
        if (!params || !point)
            return Error("EC key without CKA_EC_PARAMS or CKA_EC_POINT");
        return ec_public_key(*params, *point);
    }
    return Error("unsupported key type " + std::to_string(*type));
}

Result<Pkey> certificate_public_key(const Bytes& certificate_der) {
    const unsigned char* p = certificate_der.data();
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(certificate_der.size()));
    if (cert == nullptr)
        return Error("not a DER X.509 certificate");
    EVP_PKEY* key = X509_get_pubkey(cert);
    X509_free(cert);
    if (key == nullptr)
        return Error("certificate has an unreadable public key");
    return Pkey(key);
}

Result<Bytes> spki_der(EVP_PKEY* key) {
    unsigned char* out = nullptr;
    int len = i2d_PUBKEY(key, &out);
    if (len <= 0)
        return Error("cannot encode SubjectPublicKeyInfo");
    Bytes der(out, out + len);
    OPENSSL_free(out);
    return der;
}

Result<std::string> spki_pem(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr || PEM_write_bio_PUBKEY(bio, key) != 1) {
        BIO_free(bio);
        return Error("cannot encode PEM public key");
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(len));
    BIO_free(bio);
    return pem;
}

Result<Pkey> pkey_from_spki(const Bytes& spki) {
    const unsigned char* p = spki.data();
    EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
    if (key == nullptr)
        return Error("not a DER SubjectPublicKeyInfo");
    return Pkey(key);
}

size_t key_bits(EVP_PKEY* key) {
    if (EVP_PKEY_get_id(key) == EVP_PKEY_ED25519)
        return 255;
    return static_cast<size_t>(EVP_PKEY_get_bits(key));
}

Result<Bytes> key_id_material(EVP_PKEY* key) {
    int id = EVP_PKEY_get_id(key);
    if (id == EVP_PKEY_RSA) {
        BIGNUM* n = nullptr;
        if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n)) {
            return Error("cannot read the RSA modulus");
        }
        Bytes out(static_cast<size_t>(BN_num_bytes(n)));
        BN_bn2bin(n, out.data());
        BN_free(n);
        return out;
    }
    if (id == EVP_PKEY_ED25519) {
        Bytes out(32);
        size_t len = out.size();
        if (!EVP_PKEY_get_raw_public_key(key, out.data(), &len)) {
            return Error("cannot read the Ed25519 public key");
        }
        out.resize(len);
        return out;
    }
    if (id == EVP_PKEY_EC) {
        size_t len = 0;
        if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &len)) {
            return Error("cannot read the EC point");
        }
        Bytes out(len);
        if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, out.data(), len, &len)) {
            return Error("cannot read the EC point");
        }
        out.resize(len);
        return out;
    }
    return Error("unsupported key algorithm");
}

}  // namespace attache::p11
