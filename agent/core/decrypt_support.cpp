#include "agent/core/decrypt_support.h"

#include <algorithm>

#include "pkcs11/agent_protocol/vocabulary.h"
#include "pkcs11/mechanism.h"

namespace attache::agent {
namespace {

bool decrypts_with(const p11::Module& module, CK_SLOT_ID slot,
                   const std::vector<CK_MECHANISM_TYPE>& mechanisms, CK_MECHANISM_TYPE type) {
    if (std::find(mechanisms.begin(), mechanisms.end(), type) == mechanisms.end())
        return false;
    auto info = module.mechanism_info(slot, type);
    return info && (info->flags & CKF_DECRYPT) != 0;
}

// C_DecryptInit with OAEP and `hash`, in a session closed at once.
bool oaep_init_accepted(const p11::Module& module, CK_SLOT_ID slot, CK_OBJECT_HANDLE key,
                        p11::Hash hash) {
    auto session = module.open_session(slot);
    if (!session)
        return false;
    p11::Mechanism mechanism = p11::Mechanism::rsa_oaep(hash);
    return module.fn()->C_DecryptInit(session->handle(), mechanism.get(), key) == CKR_OK;
}

}  // namespace

uint32_t probe_decrypt_support(const p11::Module& module, CK_SLOT_ID slot, CK_OBJECT_HANDLE key) {
    auto mechanisms = module.mechanisms(slot);
    if (!mechanisms)
        return 0;
    uint32_t support = 0;
    if (decrypts_with(module, slot, *mechanisms, CKM_RSA_PKCS))
        support |= protocol::kDecryptPkcs1;
    if (!decrypts_with(module, slot, *mechanisms, CKM_RSA_PKCS_OAEP))
        return support;
    static constexpr std::pair<p11::Hash, uint32_t> kOaep[] = {
        {p11::Hash::sha1, protocol::kDecryptOaepSha1},
        {p11::Hash::sha256, protocol::kDecryptOaepSha256},
        {p11::Hash::sha384, protocol::kDecryptOaepSha384},
        {p11::Hash::sha512, protocol::kDecryptOaepSha512},
    };
    for (const auto& [hash, bit] : kOaep) {
        if (oaep_init_accepted(module, slot, key, hash))
            support |= bit;
    }
    return support;
}

}  // namespace attache::agent
