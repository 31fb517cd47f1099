#pragma once

// The bytes a signature is made over, gathered the way the mechanism says: hashed in the
// module (CKM_SHAnnn_*), buffered (CKM_EDDSA's multi-part form), or taken as given and checked
// (CKM_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_ECDSA, single-part only). Also the module's own
// verification with OpenSSL.

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <memory>

#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/bytes.h"
#include "pkcs11/forwarding/key_objects.h"
#include "pkcs11/forwarding/mechanisms.h"

namespace attache::forwarding {

// The largest message CKM_EDDSA signs: it travels whole in one request frame.
inline constexpr size_t kMaxEddsaMessage = protocol::kMaxMessageSize - 8 * 1024;

class SignInput {
  public:
    SignInput(const SignSpec& spec, const PublicKeyInfo& key);
    ~SignInput();
    SignInput(SignInput&&) noexcept;
    SignInput& operator=(SignInput&&) noexcept;

    // Checks the mechanism's parameters against the key (PSS salt length).
    CK_RV check_key() const;
    // C_SignUpdate / C_VerifyUpdate. CKR_FUNCTION_NOT_SUPPORTED for single-part mechanisms,
    // CKR_DATA_LEN_RANGE past a cap.
    CK_RV update(const uint8_t* data, size_t size);
    bool updated() const { return updated_; }
    // The bytes to sign after the updates (C_SignFinal).
    CK_RV finish(Bytes& out);
    // The bytes to sign for C_Sign(data).
    CK_RV single(const uint8_t* data, size_t size, Bytes& out);

    const SignSpec& spec() const { return spec_; }
    const PublicKeyInfo& key() const { return key_; }

  private:
    CK_RV shape(Bytes& input) const;  // checks (and for ECDSA truncates) the raw input

    SignSpec spec_;
    PublicKeyInfo key_;
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md_{nullptr, EVP_MD_CTX_free};
    Bytes buffer_;
    bool updated_ = false;
    bool failed_ = false;
};

protocol::SignRequest make_sign_request(const std::string& key_id, const SignSpec& spec,
                                        Bytes input);

// Verifies `signature` (PKCS#11 format) over `input` (what finish()/single() produced).
// CKR_OK, CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE.
CK_RV verify_signature(const SignSpec& spec, const PublicKeyInfo& key, const Bytes& input,
                       const uint8_t* signature, size_t size);

}  // namespace attache::forwarding
