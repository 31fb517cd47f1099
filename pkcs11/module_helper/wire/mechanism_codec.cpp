#include "pkcs11/module_helper/wire/mechanism_codec.h"

namespace attache::p11::module_helper {
namespace {

bool is_pss(CK_MECHANISM_TYPE type) {
    switch (type) {
        case CKM_RSA_PKCS_PSS:
        case CKM_SHA1_RSA_PKCS_PSS:
        case CKM_SHA224_RSA_PKCS_PSS:
        case CKM_SHA256_RSA_PKCS_PSS:
        case CKM_SHA384_RSA_PKCS_PSS:
        case CKM_SHA512_RSA_PKCS_PSS:
            return true;
        default:
            return false;
    }
}

void write_data(FieldWriter& w, const CK_BYTE* data, CK_ULONG size) {
    w.bytes(data, size);
}

std::uint8_t* data_of(std::optional<std::span<std::uint8_t>> value, CK_ULONG& size) {
    static std::uint8_t empty = 0;
    if (!value) {
        size = 0;
        return nullptr;
    }
    size = static_cast<CK_ULONG>(value->size());
    return value->empty() ? &empty : value->data();
}

}  // namespace

ParamKind param_kind(CK_MECHANISM_TYPE type, const void* parameter) {
    if (parameter == nullptr)
        return ParamKind::none;
    if (is_pss(type))
        return ParamKind::pss;
    if (type == CKM_RSA_PKCS_OAEP)
        return ParamKind::oaep;
    if (type == CKM_ECDH1_DERIVE || type == CKM_ECDH1_COFACTOR_DERIVE)
        return ParamKind::ecdh1;
    return ParamKind::raw;
}

bool write_mechanism(FieldWriter& w, const CK_MECHANISM* m) {
    if (m == nullptr)
        return false;
    w.ulong(m->mechanism);
    const ParamKind kind = param_kind(m->mechanism, m->pParameter);
    w.ulong(static_cast<CK_ULONG>(kind));
    switch (kind) {
        case ParamKind::none:
            return true;
        case ParamKind::raw:
            w.bytes(m->pParameter, m->ulParameterLen);
            return true;
        case ParamKind::pss: {
            if (m->ulParameterLen != sizeof(CK_RSA_PKCS_PSS_PARAMS))
                return false;
            const auto* p = static_cast<const CK_RSA_PKCS_PSS_PARAMS*>(m->pParameter);
            w.ulong(p->hashAlg);
            w.ulong(p->mgf);
            w.ulong(p->sLen);
            return true;
        }
        case ParamKind::oaep: {
            if (m->ulParameterLen != sizeof(CK_RSA_PKCS_OAEP_PARAMS))
                return false;
            const auto* p = static_cast<const CK_RSA_PKCS_OAEP_PARAMS*>(m->pParameter);
            w.ulong(p->hashAlg);
            w.ulong(p->mgf);
            w.ulong(p->source);
            w.bytes(p->pSourceData, p->ulSourceDataLen);
            return true;
        }
        case ParamKind::ecdh1: {
            if (m->ulParameterLen != sizeof(CK_ECDH1_DERIVE_PARAMS))
                return false;
            const auto* p = static_cast<const CK_ECDH1_DERIVE_PARAMS*>(m->pParameter);
            w.ulong(p->kdf);
            write_data(w, p->pSharedData, p->ulSharedDataLen);
            write_data(w, p->pPublicData, p->ulPublicDataLen);
            return true;
        }
    }
    return false;
}

void read_mechanism(FieldReader& r, DecodedMechanism& out) {
    out.mechanism.mechanism = r.ulong();
    const CK_ULONG kind = r.ulong();
    switch (static_cast<ParamKind>(kind)) {
        case ParamKind::none:
            return;
        case ParamKind::raw:
            out.mechanism.pParameter = data_of(r.bytes(), out.mechanism.ulParameterLen);
            return;
        case ParamKind::pss: {
            auto& p = out.params.emplace<CK_RSA_PKCS_PSS_PARAMS>();
            p.hashAlg = r.ulong();
            p.mgf = r.ulong();
            p.sLen = r.ulong();
            out.mechanism.pParameter = &p;
            out.mechanism.ulParameterLen = sizeof p;
            return;
        }
        case ParamKind::oaep: {
            auto& p = out.params.emplace<CK_RSA_PKCS_OAEP_PARAMS>();
            p.hashAlg = r.ulong();
            p.mgf = r.ulong();
            p.source = r.ulong();
            p.pSourceData = data_of(r.bytes(), p.ulSourceDataLen);
            out.mechanism.pParameter = &p;
            out.mechanism.ulParameterLen = sizeof p;
            return;
        }
        case ParamKind::ecdh1: {
            auto& p = out.params.emplace<CK_ECDH1_DERIVE_PARAMS>();
            p.kdf = r.ulong();
            p.pSharedData = data_of(r.bytes(), p.ulSharedDataLen);
            p.pPublicData = data_of(r.bytes(), p.ulPublicDataLen);
            out.mechanism.pParameter = &p;
            out.mechanism.ulParameterLen = sizeof p;
            return;
        }
    }
    r.fail();
}

}  // namespace attache::p11::module_helper
