#include "agent/core/key_scan.h"

#include "agent/core/authority_scan.h"

#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <map>
#include <set>

#include "pkcs11/keys.h"
#include "pkcs11/public_key.h"
#include "pkcs11/uri.h"

namespace attache::agent {
namespace {

using protocol::KeyType;

constexpr size_t kKeyIdDigits = 16;  // a key id: the first 64 bits of the SPKI's SHA-256

bool key_type_of(EVP_PKEY* pkey, KeyType& out) {
    switch (EVP_PKEY_get_id(pkey)) {
        case EVP_PKEY_RSA:
            out = KeyType::rsa;
            return true;
        case EVP_PKEY_EC:
            out = KeyType::ec;
            return true;
        case EVP_PKEY_ED25519:
            out = KeyType::ed25519;
            return true;
        default:
            return false;
    }
}

// Fills the public parts (id, type, size, SPKI) of a record; false when there is no usable
// public key.
bool describe_public_key(KeyRecord& r, std::shared_ptr<EVP_PKEY> pkey) {
    if (!pkey || !key_type_of(pkey.get(), r.type))
        return false;
    r.bits = static_cast<uint32_t>(p11::key_bits(pkey.get()));
    auto spki = p11::spki_der(pkey.get());
    if (!spki)
        return false;
    r.spki = std::move(*spki);
    r.spki_sha256 = spki_sha256_hex(r.spki);
    r.id = r.spki_sha256.substr(0, kKeyIdDigits);
    r.pkey = std::move(pkey);
    return true;
}

// A certificate's key usage narrows what the key may do. Without a certificate, a key that
// may both sign and decrypt (or derive) is served for the latter only: enrolment gives the
// encryption key CKA_SIGN solely so it can sign its own certificate request, and a key
// serving as a decryption oracle must not also become a signing oracle before its certificate
// says so.
void restrict_by_certificate(KeyRecord& r) {
    if (!r.certificate.empty()) {
        r.operations &= certificate_allowed_operations(r.certificate);
    } else if ((r.operations & protocol::kOpSign) &&
               (r.operations & (protocol::kOpDecrypt | protocol::kOpDerive))) {
        r.operations &= ~uint32_t{protocol::kOpSign};
    }
}

std::string refusal_for(const p11::KeyObject& k) {
    if (!k.sensitive)
        return "the private key is not sensitive (CKA_SENSITIVE false)";
    if (k.extractable)
        return "the private key is extractable (CKA_EXTRACTABLE true)";
    if (!k.never_extractable) {
        return "the private key was extractable once (CKA_NEVER_EXTRACTABLE false): a copy "
               "may exist outside the token";
    }
    return {};
}

KeyRecord from_private(const p11::KeyObject& k, const p11::TokenInfo& token,
                       const ScanPolicy& policy) {
    KeyRecord r;
    r.label = k.label;
    r.cka_id = k.id;
    r.uri = p11::Uri::for_object(token, CKO_PRIVATE_KEY, k.id, k.label);
    r.verified = true;
    r.always_authenticate = k.always_authenticate;
    r.private_handle = k.private_key;
    r.certificate = k.certificate_der;
    if (!describe_public_key(r, k.pkey)) {
        r.served = false;
        r.refusal = "no public key or certificate for this private key on the token";
        r.id = key_id_for(to_bytes(token.serial + "/" + hex(k.id)));
        return r;
    }
    if (k.can_sign)
        r.operations |= protocol::kOpSign;
    if (k.can_decrypt && r.type == KeyType::rsa)
        r.operations |= protocol::kOpDecrypt;
    if (k.can_derive && r.type == KeyType::ec)
        r.operations |= protocol::kOpDerive;
    restrict_by_certificate(r);
    if (!k.hardware_bound()) {
        r.refusal = refusal_for(k);
        r.served = policy.allow_extractable_keys;
        if (r.served)
            r.refusal += " (served: allow_extractable_keys is set)";
    }
    return r;
}

p11::AttributeTemplate with_class(const p11::AttributeTemplate& filter, CK_OBJECT_CLASS klass) {
    p11::AttributeTemplate t = filter;
    t.add_ulong(CKA_CLASS, klass);
    return t;
}

Result<std::string> certificate_label(const p11::Session& session, CK_OBJECT_HANDLE certificate) {
    ATTACHE_TRY(p11::AttributeValues v, session.read(certificate, {CKA_LABEL}));
    return v.string(CKA_LABEL).value_or("");
}

// Keys seen only through public objects (the token is locked, or the private key is hidden).
Result<std::vector<KeyRecord>> public_only_records(const p11::Session& session,
                                                   const p11::TokenInfo& token,
                                                   const ScanPolicy& policy,
                                                   const std::set<Bytes>& known_ids) {
    std::map<Bytes, KeyRecord> by_id;
    ATTACHE_TRY(auto pubs, session.find(with_class(policy.object_filter, CKO_PUBLIC_KEY)));
    for (CK_OBJECT_HANDLE h : pubs) {
        constexpr CK_ATTRIBUTE_TYPE kAttrs[] = {
            CKA_ID,        CKA_LABEL,    CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT,
            CKA_EC_PARAMS, CKA_EC_POINT, CKA_VERIFY,   CKA_ENCRYPT, CKA_DERIVE};
        ATTACHE_TRY(p11::AttributeValues v, session.read(h, kAttrs));
        const Bytes* id = v.bytes(CKA_ID);
        if (id == nullptr || id->empty() || known_ids.count(*id))
            continue;
        auto pkey = p11::public_key_from(v);
        if (!pkey)
            continue;
        KeyRecord r;
        r.cka_id = *id;
        r.label = v.string(CKA_LABEL).value_or("");
        if (!describe_public_key(r, std::shared_ptr<EVP_PKEY>(pkey->release(), EVP_PKEY_free))) {
            continue;
        }
        if (v.flag(CKA_VERIFY))
            r.operations |= protocol::kOpSign;
        if (v.flag(CKA_ENCRYPT) && r.type == KeyType::rsa)
            r.operations |= protocol::kOpDecrypt;
        if (r.type == KeyType::ec && (v.flag(CKA_DERIVE) || !v.flag(CKA_VERIFY))) {
            r.operations |= protocol::kOpDerive;
        }
        by_id.emplace(*id, std::move(r));
    }
    ATTACHE_TRY(auto certs, session.find(with_class(policy.object_filter, CKO_CERTIFICATE)));
    for (CK_OBJECT_HANDLE h : certs) {
        ATTACHE_TRY(p11::AttributeValues v, session.read(h, {CKA_ID, CKA_LABEL, CKA_VALUE}));
        const Bytes* id = v.bytes(CKA_ID);
        const Bytes* der = v.bytes(CKA_VALUE);
        if (id == nullptr || id->empty() || der == nullptr || known_ids.count(*id))
            continue;
        auto it = by_id.find(*id);
        if (it == by_id.end()) {
            if (is_ca_certificate(*der))
                continue;  // a chain certificate, not a key
            auto pkey = p11::certificate_public_key(*der);
            if (!pkey)
                continue;
            KeyRecord r;
            r.cka_id = *id;
            r.label = v.string(CKA_LABEL).value_or("");
            if (!describe_public_key(r,
                                     std::shared_ptr<EVP_PKEY>(pkey->release(), EVP_PKEY_free))) {
                continue;
            }
            r.operations = protocol::kOpSign | protocol::kOpDecrypt | protocol::kOpDerive;
            if (r.type != KeyType::rsa)
                r.operations &= ~uint32_t{protocol::kOpDecrypt};
            if (r.type != KeyType::ec)
                r.operations &= ~uint32_t{protocol::kOpDerive};
            it = by_id.emplace(*id, std::move(r)).first;
        }
        it->second.certificate = *der;
        it->second.certificate_label = v.string(CKA_LABEL).value_or("");
    }
    std::vector<KeyRecord> out;
    for (auto& [id, r] : by_id) {
        r.uri = p11::Uri::for_object(token, CKO_PRIVATE_KEY, r.cka_id, r.label);
        restrict_by_certificate(r);
        out.push_back(std::move(r));
    }
    return out;
}

// CKA_IDs of the private key objects the token shows without a login (none on most HSMs).
Result<std::set<Bytes>> visible_private_key_ids(const p11::Session& session,
                                                const ScanPolicy& policy) {
    std::set<Bytes> ids;
    ATTACHE_TRY(auto handles, session.find(with_class(policy.object_filter, CKO_PRIVATE_KEY)));
    for (CK_OBJECT_HANDLE h : handles) {
        ATTACHE_TRY(p11::AttributeValues v, session.read(h, {CKA_ID}));
        if (const Bytes* id = v.bytes(CKA_ID); id != nullptr && !id->empty())
            ids.insert(*id);
    }
    return ids;
}

}  // namespace

std::string spki_sha256_hex(const Bytes& spki) {
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(spki.data(), spki.size(), digest);
    return hex(digest, sizeof digest);
}

std::string key_id_for(const Bytes& spki) {
    return spki_sha256_hex(spki).substr(0, kKeyIdDigits);
}

uint32_t certificate_allowed_operations(const Bytes& certificate_der) {
    const unsigned char* p = certificate_der.data();
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(certificate_der.size()));
    if (cert == nullptr)
        return 0;
    const uint32_t ku = X509_get_key_usage(cert);
    X509_free(cert);
    if (ku == UINT32_MAX)
        return protocol::kOpSign | protocol::kOpDecrypt | protocol::kOpDerive;
    uint32_t ops = 0;
    if (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_CERT_SIGN | KU_CRL_SIGN)) {
        ops |= protocol::kOpSign;
    }
    if (ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT))
        ops |= protocol::kOpDecrypt;
    if (ku & KU_KEY_AGREEMENT)
        ops |= protocol::kOpDerive;
    return ops;
}

Result<std::vector<KeyRecord>> scan_keys(const p11::Session& session, const p11::TokenInfo& token,
                                         bool logged_in, const ScanPolicy& policy) {
    std::vector<KeyRecord> records;
    std::set<Bytes> known_ids;
    if (logged_in) {
        ATTACHE_TRY(auto keys, p11::find_keys(session, policy.object_filter));
        for (const auto& k : keys) {
            records.push_back(from_private(k, token, policy));
            if (k.certificate) {
                ATTACHE_TRY(records.back().certificate_label,
                            certificate_label(session, *k.certificate));
            }
            if (!k.id.empty())
                known_ids.insert(k.id);
        }
    }
    // Unlocked, every private key is visible: public objects without one (a CA certificate
    // stored on the card, an orphaned public key) are not keys anyone can use.
    if (logged_in)
        return records;
    ATTACHE_TRY(auto public_only, public_only_records(session, token, policy, known_ids));
    // Tokens that show their private key objects before login (OpenSC's cards do) say which
    // public objects are keys: a public key OpenSC made for a stored certificate is not one.
    ATTACHE_TRY(std::set<Bytes> private_ids, visible_private_key_ids(session, policy));
    for (auto& r : public_only) {
        if (private_ids.empty() || private_ids.count(r.cka_id))
            records.push_back(std::move(r));
    }
    return records;
}

}  // namespace attache::agent
