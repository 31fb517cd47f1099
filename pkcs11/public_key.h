#pragma once

// Public keys from PKCS#11 attributes to OpenSSL: EVP_PKEY, SubjectPublicKeyInfo DER and PEM.
// Handles RSA (modulus, exponent), EC (CKA_EC_PARAMS OID + CKA_EC_POINT, DER-wrapped or raw)
// and Ed25519.

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>

#include "pkcs11/attribute_values.h"
#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::p11 {

class Session;

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// DER-encoded OIDs of the curves Attache generates keys on, as CKA_EC_PARAMS holds them.
Bytes ec_params_p256();
Bytes ec_params_p384();
Bytes ec_params_ed25519();

// The raw point from CKA_EC_POINT, which the standard says is a DER OCTET STRING but some
// modules return bare. `field_bytes` is the curve's field size (32 for P-256, 32 for Ed25519).
Result<Bytes> unwrap_ec_point(const Bytes& ec_point, size_t field_bytes);

// The curve named by CKA_EC_PARAMS: OpenSSL's NID (NID_X9_62_prime256v1, NID_ED25519, ...).
Result<int> curve_nid(const Bytes& ec_params);

Result<Pkey> rsa_public_key(const Bytes& modulus, const Bytes& exponent);
Result<Pkey> ec_public_key(const Bytes& ec_params, const Bytes& ec_point);

// Builds the public key from the attributes of a public-key object (or an RSA private key,
// which carries its modulus and exponent). Needs CKA_KEY_TYPE among the values.
Result<Pkey> public_key_from(const AttributeValues& values);
// The attributes public_key_from() reads.
inline constexpr CK_ATTRIBUTE_TYPE kPublicKeyAttributes[] = {
    CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS, CKA_EC_POINT};

// The public key of an X.509 certificate (DER).
Result<Pkey> certificate_public_key(const Bytes& certificate_der);

Result<Bytes> spki_der(EVP_PKEY* key);
Result<std::string> spki_pem(EVP_PKEY* key);
Result<Pkey> pkey_from_spki(const Bytes& spki);
// Key size in bits (modulus bits for RSA, field bits for EC, 255 for Ed25519).
size_t key_bits(EVP_PKEY* key);
// The public value a key id is derived from (OpenSC/NSS convention): the RSA modulus, or the
// EC/EdDSA public point's octets.
Result<Bytes> key_id_material(EVP_PKEY* key);

}  // namespace attache::p11
