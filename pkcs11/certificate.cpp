#include "pkcs11/certificate.h"

#include <openssl/x509.h>

namespace attache::p11 {
namespace {

template <typename T, int (*Encode)(const T*, unsigned char**)>
Bytes der_of(const T* value) {
    unsigned char* out = nullptr;
    int len = Encode(value, &out);
    if (len <= 0)
        return {};
    Bytes b(out, out + len);
    OPENSSL_free(out);
    return b;
}

}  // namespace

Result<CK_OBJECT_HANDLE> create_certificate(Session& session, const Bytes& der, const Bytes& id,
                                            const std::string& label) {
    const unsigned char* p = der.data();
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (cert == nullptr || p != der.data() + der.size()) {
        X509_free(cert);
        return Error("not a DER X.509 certificate");
    }
    Bytes subject = der_of<X509_NAME, i2d_X509_NAME>(X509_get_subject_name(cert));
    Bytes issuer = der_of<X509_NAME, i2d_X509_NAME>(X509_get_issuer_name(cert));
    Bytes serial = der_of<ASN1_INTEGER, i2d_ASN1_INTEGER>(X509_get0_serialNumber(cert));
    X509_free(cert);

    AttributeTemplate templ;
    templ.add_ulong(CKA_CLASS, CKO_CERTIFICATE)
        .add_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
        .add_bool(CKA_TOKEN, true)
        .add_bool(CKA_PRIVATE, false)
        .add_bool(CKA_MODIFIABLE, true)
        .add_bytes(CKA_VALUE, der)
        .add_bytes(CKA_SUBJECT, subject)
        .add_bytes(CKA_ISSUER, issuer)
        .add_bytes(CKA_SERIAL_NUMBER, serial)
        .add_bytes(CKA_ID, id);
    if (!label.empty())
        templ.add_string(CKA_LABEL, label);
    auto r = session.create(std::move(templ));
    if (!r)
        return std::move(r).error().context("storing certificate '" + label + "'");
    return r;
}

}  // namespace attache::p11
