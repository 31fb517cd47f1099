#include "agent/ssh/keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "agent/ssh/curves.h"
#include "agent/ssh/messages.h"
#include "pkcs11/openssl_ptr.h"

namespace attache::ssh {
namespace {

using Bn = BignumPtr;

Result<Bn> bn_param(const EVP_PKEY* key, const char* name) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1 || bn == nullptr)
        return Error(std::string("cannot read the key's ") + name);
    return Bn(bn);
}

Bytes bn_bytes(const BIGNUM* bn) {
    Bytes out(static_cast<size_t>(BN_num_bytes(bn)));
    BN_bn2bin(bn, out.data());
    return out;
}

Result<int> ec_curve_nid(const EVP_PKEY* key) {
    char name[80] = {};
    size_t length = 0;
    if (EVP_PKEY_get_group_name(key, name, sizeof(name), &length) != 1)
        return Error("cannot read the EC key's curve");
    int nid = OBJ_sn2nid(name);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(name);
    if (nid == NID_undef)
        nid = OBJ_ln2nid(name);
    if (nid == NID_undef)
        return Error(std::string("unknown EC curve ") + name);
    return nid;
}

std::string base64(ByteView data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(std::max(n, 0)));
    return out;
}

bool all_zero(ByteView v) {
    return std::all_of(v.begin(), v.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace

std::string_view key_type_name(KeyType type) {
    switch (type) {
        case KeyType::kRsa:
            return "ssh-rsa";
        case KeyType::kEcdsaP256:
            return "ecdsa-sha2-nistp256";
        case KeyType::kEcdsaP384:
            return "ecdsa-sha2-nistp384";
        case KeyType::kEcdsaP521:
            return "ecdsa-sha2-nistp521";
        case KeyType::kEd25519:
            return "ssh-ed25519";
    }
    return "unknown";
}

Result<KeyType> key_type_from_name(std::string_view name) {
    for (KeyType t : {KeyType::kRsa, KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEcdsaP521,
                      KeyType::kEd25519}) {
        if (key_type_name(t) == name)
            return t;
    }
    return Error("unsupported SSH key type \"" + std::string(name) + "\"");
}

Result<KeyType> key_type_of(const EVP_PKEY* key) {
    if (key == nullptr)
        return Error("no key");
    if (EVP_PKEY_is_a(key, "RSA"))
        return KeyType::kRsa;
    if (EVP_PKEY_is_a(key, "ED25519"))
        return KeyType::kEd25519;
    if (EVP_PKEY_is_a(key, "EC")) {
        ATTACHE_TRY(int nid, ec_curve_nid(key));
        for (const EcdsaCurve& c : ecdsa_curves()) {
            if (c.nid == nid)
                return c.type;
        }
        return Error(std::string("EC curve ") + OBJ_nid2sn(nid) + " has no SSH key type");
    }
    const char* name = EVP_PKEY_get0_type_name(key);
    return Error(std::string("key type ") + (name ? name : "?") + " has no SSH key type");
}

Result<KeyType> key_type_of_blob(ByteView blob) {
    Reader r(blob);
    auto name = r.string();
    if (!name)
        return std::move(name).error().context("key blob");
    return key_type_from_name(as_chars(*name));
}

Result<Bytes> public_key_blob(const EVP_PKEY* key) {
    ATTACHE_TRY(KeyType type, key_type_of(key));
    Writer w;
    w.string(key_type_name(type));
    switch (type) {
        case KeyType::kRsa: {
            ATTACHE_TRY(Bn e, bn_param(key, OSSL_PKEY_PARAM_RSA_E));
            ATTACHE_TRY(Bn n, bn_param(key, OSSL_PKEY_PARAM_RSA_N));
            w.mpint(bn_bytes(e.get())).mpint(bn_bytes(n.get()));
            break;
        }
        case KeyType::kEcdsaP256:
        case KeyType::kEcdsaP384:
        case KeyType::kEcdsaP521: {
            // The point from its coordinates, so it is uncompressed whatever form the key
            // object prefers.
            const EcdsaCurve& curve = *curve_of(type);
            ATTACHE_TRY(Bn x, bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X));
            ATTACHE_TRY(Bn y, bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y));
            const int field = static_cast<int>(curve.field_bytes);
            Bytes point(1 + 2 * curve.field_bytes);
            point[0] = 0x04;
            if (BN_bn2binpad(x.get(), point.data() + 1, field) != field ||
                BN_bn2binpad(y.get(), point.data() + 1 + field, field) != field)
                return Error("EC public point does not fit its curve");
            w.string(curve.ssh_curve).string(point);
            break;
        }
        case KeyType::kEd25519: {
            std::uint8_t a[kEd25519KeyBytes] = {};
            size_t length = 0;
            if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, a, sizeof(a),
                                                &length) != 1 ||
                length != kEd25519KeyBytes)
                return Error("cannot read the Ed25519 public key");
            w.string(ByteView(a, length));
            break;
        }
    }
    return w.take();
}

std::string fingerprint_sha256(ByteView blob) {
    std::uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(blob.data(), blob.size(), md);
    std::string b64 = base64(md);
    while (!b64.empty() && b64.back() == '=')
        b64.pop_back();
    return "SHA256:" + b64;
}

Result<std::string> authorized_keys_line(ByteView blob, std::string_view comment) {
    ATTACHE_TRY(KeyType type, key_type_of_blob(blob));
    for (char c : comment) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f)
            return Error("key comment contains a control character");
    }
    std::string line(key_type_name(type));
    line += ' ';
    line += base64(blob);
    if (!comment.empty()) {
        line += ' ';
        line += comment;
    }
    return line;
}

Result<std::string> authorized_keys_line(const EVP_PKEY* key, std::string_view comment) {
    ATTACHE_TRY(Bytes blob, public_key_blob(key));
    return authorized_keys_line(blob, comment);
}

Result<SignPlan> plan_signature(KeyType key_type, std::uint32_t flags, bool allow_ssh_rsa_sha1) {
    switch (key_type) {
        case KeyType::kRsa:
            if (flags & SSH_AGENT_RSA_SHA2_256)
                return SignPlan{key_type, p11::Hash::sha256, "rsa-sha2-256"};
            if (flags & SSH_AGENT_RSA_SHA2_512)
                return SignPlan{key_type, p11::Hash::sha512, "rsa-sha2-512"};
            if (allow_ssh_rsa_sha1)
                return SignPlan{key_type, p11::Hash::sha1, "ssh-rsa"};
            return Error(
                "refusing an ssh-rsa (SHA-1) signature: the client asked for neither "
                "rsa-sha2-256 nor rsa-sha2-512");
        case KeyType::kEcdsaP256:
        case KeyType::kEcdsaP384:
        case KeyType::kEcdsaP521:
            return SignPlan{key_type, curve_of(key_type)->hash, key_type_name(key_type)};
        case KeyType::kEd25519:
            return SignPlan{key_type, std::nullopt, key_type_name(key_type)};
    }
    return Error("unknown key type");
}

Result<Bytes> encode_signature(const SignPlan& plan, ByteView token_signature) {
    Writer w;
    w.string(plan.algorithm);
    switch (plan.key_type) {
        case KeyType::kRsa:
            if (token_signature.empty())
                return Error("empty RSA signature from the token");
            w.string(token_signature);
            break;
        case KeyType::kEcdsaP256:
        case KeyType::kEcdsaP384:
        case KeyType::kEcdsaP521: {
            const size_t field = curve_of(plan.key_type)->field_bytes;
            if (token_signature.size() != 2 * field) {
                return Error("ECDSA signature from the token has " +
                             std::to_string(token_signature.size()) + " bytes, expected " +
                             std::to_string(2 * field) + " (r||s)");
            }
            ByteView r = token_signature.first(field);
            ByteView s = token_signature.subspan(field);
            if (all_zero(r) || all_zero(s))
                return Error("ECDSA signature from the token has a zero r or s");
            Writer rs;
            rs.mpint(r).mpint(s);
            w.string(rs.bytes());
            break;
        }
        case KeyType::kEd25519:
            if (token_signature.size() != kEd25519SignatureBytes) {
                return Error("Ed25519 signature from the token has " +
                             std::to_string(token_signature.size()) + " bytes, expected 64");
            }
            w.string(token_signature);
            break;
    }
    return w.take();
}

}  // namespace attache::ssh
