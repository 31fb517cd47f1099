#include "cli/admin/csr.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

#include "cli/admin/card_signature.h"
#include "cli/admin/openssl_util.h"

namespace attache::cli::admin {
namespace {

// keyUsage bit numbers (RFC 5280, 4.2.1.3).
constexpr int kDigitalSignature = 0;
constexpr int kKeyEncipherment = 2;
constexpr int kKeyAgreement = 4;

using ExtensionStack =
    std::unique_ptr<STACK_OF(X509_EXTENSION), void (*)(STACK_OF(X509_EXTENSION)*)>;

void free_extensions(STACK_OF(X509_EXTENSION) * stack) {
    sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free);
}

Status push(STACK_OF(X509_EXTENSION) * stack, X509_EXTENSION* extension, const char* what) {
    if (extension == nullptr || sk_X509_EXTENSION_push(stack, extension) <= 0) {
        X509_EXTENSION_free(extension);
        return Error(std::string("cannot encode the ") + what + " extension " + openssl_errors());
    }
    return ok();
}

X509_EXTENSION* key_usage(std::initializer_list<int> bits) {
    ASN1_BIT_STRING* usage = ASN1_BIT_STRING_new();
    if (usage == nullptr)
        return nullptr;
    for (int bit : bits)
        ASN1_BIT_STRING_set_bit(usage, bit, 1);
    X509_EXTENSION* ext = X509V3_EXT_i2d(NID_key_usage, 1, usage);
    ASN1_BIT_STRING_free(usage);
    return ext;
}

X509_EXTENSION* extended_key_usage(std::initializer_list<int> nids) {
    EXTENDED_KEY_USAGE* eku = sk_ASN1_OBJECT_new_null();
    if (eku == nullptr)
        return nullptr;
    for (int nid : nids)
        sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(nid));
    X509_EXTENSION* ext = X509V3_EXT_i2d(NID_ext_key_usage, 0, eku);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    return ext;
}

X509_EXTENSION* email_alt_name(const std::string& email) {
    GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_IA5STRING* value = ASN1_IA5STRING_new();
    X509_EXTENSION* ext = nullptr;
    if (names && name && value &&
        ASN1_STRING_set(value, email.data(), static_cast<int>(email.size())) == 1) {
        GENERAL_NAME_set0_value(name, GEN_EMAIL, value);
        value = nullptr;
        if (sk_GENERAL_NAME_push(names, name) > 0) {
            name = nullptr;
            ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names);
        }
    }
    ASN1_IA5STRING_free(value);
    GENERAL_NAME_free(name);
    GENERAL_NAMES_free(names);
    return ext;
}

Status add_extensions(X509_REQ* req, const CsrContent& content, EVP_PKEY* public_key) {
    ExtensionStack exts(sk_X509_EXTENSION_new_null(), free_extensions);
    if (!exts)
        return Error("out of memory");
    if (content.role == KeyRole::authentication) {
        ATTACHE_CHECK(push(exts.get(), key_usage({kDigitalSignature}), "keyUsage"));
        ATTACHE_CHECK(push(exts.get(), extended_key_usage({NID_client_auth, NID_email_protect}),
                           "extendedKeyUsage"));
    } else {
        const bool rsa = EVP_PKEY_get_id(public_key) == EVP_PKEY_RSA;
        ATTACHE_CHECK(
            push(exts.get(), key_usage({rsa ? kKeyEncipherment : kKeyAgreement}), "keyUsage"));
        ATTACHE_CHECK(
            push(exts.get(), extended_key_usage({NID_email_protect}), "extendedKeyUsage"));
    }
    if (content.email)
        ATTACHE_CHECK(push(exts.get(), email_alt_name(*content.email), "subjectAltName"));
    if (X509_REQ_add_extensions(req, exts.get()) != 1)
        return Error("cannot add the extensions to the request " + openssl_errors());
    return ok();
}

Status set_signature_algorithm(X509_REQ* req, const CardSignatureAlgorithm& algorithm) {
    X509_ALGOR* alg = X509_ALGOR_new();
    if (alg == nullptr ||
        X509_ALGOR_set0(alg, OBJ_nid2obj(algorithm.signature_nid),
                        algorithm.null_parameters ? V_ASN1_NULL : V_ASN1_UNDEF, nullptr) != 1 ||
        X509_REQ_set1_signature_algo(req, alg) != 1) {
        X509_ALGOR_free(alg);
        return Error("cannot set the request's signature algorithm " + openssl_errors());
    }
    X509_ALGOR_free(alg);
    return ok();
}

Status set_signature(X509_REQ* req, const Bytes& signature) {
    ASN1_BIT_STRING* bits = ASN1_BIT_STRING_new();
    if (bits == nullptr || ASN1_BIT_STRING_set(bits, const_cast<uint8_t*>(signature.data()),
                                               static_cast<int>(signature.size())) != 1) {
        ASN1_BIT_STRING_free(bits);
        return Error("out of memory");
    }
    // Whole octets: no unused bits. Without this flag OpenSSL would drop trailing zero octets
    // of the signature when encoding it.
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    X509_REQ_set0_signature(req, bits);
    return ok();
}

}  // namespace

bool plausible_email(std::string_view address) {
    size_t at = address.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
        address.find('@', at + 1) != std::string_view::npos) {
        return false;
    }
    for (char c : address) {
        if (c <= ' ' || c >= 0x7f)
            return false;
    }
    return address.find('.', at) != std::string_view::npos;
}

Result<std::string> make_signed_csr(const p11::Session& session, CK_OBJECT_HANDLE private_key,
                                    EVP_PKEY* public_key, const CsrContent& content,
                                    std::string_view key_name) {
    auto sign = [&](const CardSignatureAlgorithm& algorithm, std::span<const uint8_t> message) {
        return sign_on_card(session, private_key, algorithm, message, key_name);
    };
    return make_signed_csr(sign, public_key, content);
}

Result<std::string> make_signed_csr(const CardSigner& sign, EVP_PKEY* public_key,
                                    const CsrContent& content) {
    ATTACHE_TRY(CardSignatureAlgorithm algorithm, card_signature_algorithm(public_key));
    X509ReqPtr req(X509_REQ_new());
    if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req.get(), content.subject) != 1 ||
        X509_REQ_set_pubkey(req.get(), public_key) != 1) {
        return Error("cannot build the certificate request " + openssl_errors());
    }
    ATTACHE_CHECK(add_extensions(req.get(), content, public_key));
    ATTACHE_CHECK(set_signature_algorithm(req.get(), algorithm));

    unsigned char* tbs = nullptr;
    int tbs_len = i2d_re_X509_REQ_tbs(req.get(), &tbs);
    if (tbs_len <= 0)
        return Error("cannot encode the certificate request " + openssl_errors());
    Bytes to_sign(tbs, tbs + tbs_len);
    OPENSSL_free(tbs);

    auto signature = sign(algorithm, to_sign);
    if (!signature)
        return std::move(signature).error().context("signing the certificate request on the card");
    ATTACHE_CHECK(set_signature(req.get(), *signature));

    // Verify what will be written: the DER encoding, parsed back, signed by this key.
    unsigned char* der = nullptr;
    int der_len = i2d_X509_REQ(req.get(), &der);
    if (der_len <= 0)
        return Error("cannot encode the signed request " + openssl_errors());
    const unsigned char* p = der;
    X509ReqPtr parsed(d2i_X509_REQ(nullptr, &p, der_len));
    OPENSSL_free(der);
    if (!parsed)
        return Error("the signed request does not parse back " + openssl_errors());
    EVP_PKEY* request_key = X509_REQ_get0_pubkey(parsed.get());
    if (request_key == nullptr || EVP_PKEY_eq(request_key, public_key) != 1)
        return Error("the signed request does not carry the card key's public key");
    if (X509_REQ_verify(parsed.get(), public_key) != 1) {
        return Error("the card's signature on the certificate request does not verify " +
                     openssl_errors());
    }

    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509_REQ(bio.get(), parsed.get()) != 1)
        return Error("cannot write the request as PEM " + openssl_errors());
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(len));
}

}  // namespace attache::cli::admin
