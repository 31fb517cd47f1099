#include "agent/core/authority_scan.h"

#include <openssl/x509v3.h>

namespace attache::agent {

bool is_ca_certificate(const Bytes& der) {
    const unsigned char* p = der.data();
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (cert == nullptr)
        return false;
    const bool ca = X509_check_ca(cert) != 0;
    X509_free(cert);
    return ca;
}

Result<std::vector<AuthorityRecord>> scan_authorities(const p11::Session& session,
                                                      const std::set<Bytes>& key_ids) {
    p11::AttributeTemplate certificates;
    certificates.add_ulong(CKA_CLASS, CKO_CERTIFICATE);
    ATTACHE_TRY(auto handles, session.find(certificates));
    std::vector<AuthorityRecord> out;
    for (CK_OBJECT_HANDLE h : handles) {
        ATTACHE_TRY(p11::AttributeValues v,
                    session.read(h, {CKA_ID, CKA_LABEL, CKA_VALUE, CKA_CERTIFICATE_CATEGORY}));
        const Bytes* der = v.bytes(CKA_VALUE);
        if (der == nullptr || der->empty())
            continue;
        AuthorityRecord r;
        if (const Bytes* id = v.bytes(CKA_ID))
            r.cka_id = *id;
        const auto category = v.ulong(CKA_CERTIFICATE_CATEGORY);
        const bool authority =
            category == CK_ULONG{2} ||
            (category.value_or(0) == 0 && !key_ids.count(r.cka_id) && is_ca_certificate(*der));
        if (!authority)
            continue;
        r.label = v.string(CKA_LABEL).value_or("");
        r.certificate = *der;
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace attache::agent
