#include "agent/ssh/curves.h"

#include <openssl/obj_mac.h>

#include <array>

namespace attache::ssh {
namespace {

const std::array<EcdsaCurve, 3> kEcdsaCurves = {{
    {KeyType::kEcdsaP256, NID_X9_62_prime256v1, "nistp256", "prime256v1", 32, p11::Hash::sha256,
     EVP_sha256},
    {KeyType::kEcdsaP384, NID_secp384r1, "nistp384", "secp384r1", 48, p11::Hash::sha384,
     EVP_sha384},
    {KeyType::kEcdsaP521, NID_secp521r1, "nistp521", "secp521r1", 66, p11::Hash::sha512,
     EVP_sha512},
}};

}  // namespace

std::span<const EcdsaCurve> ecdsa_curves() {
    return kEcdsaCurves;
}

const EcdsaCurve* curve_of(KeyType type) {
    for (const EcdsaCurve& c : kEcdsaCurves) {
        if (c.type == type)
            return &c;
    }
    return nullptr;
}

}  // namespace attache::ssh
