#include "cli/admin/card_auth_certificate.h"

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cli/admin/openssl_util.h"
#include "cli/admin/piv/tlv.h"
#include "pkcs11/openssl_ptr.h"

namespace attache::cli::admin {
namespace {

// DER tags of the Certificate's outer structure (RFC 5280, 4.1).
constexpr std::uint32_t kSequence = 0x30;
constexpr std::uint32_t kBitString = 0x03;

Status add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    const bool added = ext != nullptr && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    if (!added)
        return Error(std::string("cannot add the ") + OBJ_nid2sn(nid) + " extension " +
                     openssl_errors());
    return ok();
}

// A positive 127-bit serial number from OpenSSL's CSPRNG.
Status set_random_serial(X509* cert) {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        return Error("no random serial number " + openssl_errors());
    bytes[0] &= 0x7F;
    BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
    const bool set =
        bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
    BN_free(bn);
    if (!set)
        return Error("cannot set the serial number " + openssl_errors());
    return ok();
}

// OpenSSL 3.0 has no setter for a certificate's two AlgorithmIdentifiers: signing once with a
// throw-away key of the card key's type fills both, and the card then signs the TBS bytes.
Status set_signature_algorithm(X509* cert, EVP_PKEY* public_key) {
    if (EVP_PKEY_get_base_id(public_key) != EVP_PKEY_EC)
        return Error("the card-authentication key must be an EC key");
    char curve[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(public_key, "group", curve, sizeof curve, &len) != 1)
        return Error("the card-authentication key has no named curve " + openssl_errors());
    EvpPkeyPtr placeholder(EVP_EC_gen(curve));
    if (!placeholder || X509_sign(cert, placeholder.get(), EVP_sha256()) <= 0)
        return Error("cannot set the certificate's signature algorithm " + openssl_errors());
    return ok();
}

Result<Bytes> der_of(const X509_ALGOR* algorithm) {
    unsigned char* der = nullptr;
    const int n = i2d_X509_ALGOR(algorithm, &der);
    if (n <= 0)
        return Error("cannot encode the signature algorithm " + openssl_errors());
    Bytes out(der, der + n);
    OPENSSL_free(der);
    return out;
}

}  // namespace

Result<Bytes> make_card_auth_certificate(const CardSigner& sign, EVP_PKEY* public_key,
                                         const X509_NAME* subject, std::time_t now) {
    ATTACHE_TRY(CardSignatureAlgorithm algorithm, card_signature_algorithm(public_key));
    X509Ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
        X509_set_subject_name(cert.get(), subject) != 1 ||
        X509_set_issuer_name(cert.get(), subject) != 1 ||
        X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &now) == nullptr ||
        X509_time_adj_ex(X509_getm_notAfter(cert.get()), kCardAuthCertificateDays, 0, &now) ==
            nullptr ||
        X509_set_pubkey(cert.get(), public_key) != 1)
        return Error("cannot build the card-authentication certificate " + openssl_errors());
    ATTACHE_CHECK(set_random_serial(cert.get()));
    ATTACHE_CHECK(add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
    ATTACHE_CHECK(add_extension(cert.get(), NID_key_usage, "critical,digitalSignature"));
    ATTACHE_CHECK(set_signature_algorithm(cert.get(), public_key));

    unsigned char* tbs = nullptr;
    const int tbs_len = i2d_re_X509_tbs(cert.get(), &tbs);
    if (tbs_len <= 0)
        return Error("cannot encode the certificate " + openssl_errors());
    Bytes tbs_der(tbs, tbs + tbs_len);
    OPENSSL_free(tbs);
    auto signature = sign(algorithm, tbs_der);
    if (!signature)
        return std::move(signature).error().context("signing the certificate of slot 9E");
    const X509_ALGOR* outer = nullptr;
    X509_get0_signature(nullptr, &outer, cert.get());
    ATTACHE_TRY(Bytes algorithm_der, der_of(outer));
    Bytes bits{0x00};  // no unused bits
    bits.insert(bits.end(), signature->begin(), signature->end());
    Bytes body = std::move(tbs_der);
    body.insert(body.end(), algorithm_der.begin(), algorithm_der.end());
    const Bytes bit_string = piv::tlv(kBitString, bits);
    body.insert(body.end(), bit_string.begin(), bit_string.end());
    Bytes der = piv::tlv(kSequence, body);

    // What goes on the card: parsed back, carrying the card's key, signed by it.
    const unsigned char* p = der.data();
    X509Ptr parsed(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!parsed || p != der.data() + der.size())
        return Error("the signed certificate does not parse back " + openssl_errors());
    if (EVP_PKEY_eq(X509_get0_pubkey(parsed.get()), public_key) != 1)
        return Error("the signed certificate does not carry the card key's public key");
    if (X509_verify(parsed.get(), public_key) != 1)
        return Error("the card's signature on the certificate of slot 9E does not verify " +
                     openssl_errors());
    return der;
}

}  // namespace attache::cli::admin
