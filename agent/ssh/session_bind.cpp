#include "agent/ssh/session_bind.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>
#include <string>

#include "agent/ssh/curves.h"
#include "pkcs11/openssl_ptr.h"

namespace attache::ssh {
namespace {

using Bn = BignumPtr;

// An mpint's magnitude as sshbuf_get_bignum2 takes it: not negative, leading zero bytes
// dropped, at most kMaxRsaBits.
Result<ByteView> mpint_magnitude(ByteView mpint) {
    if (!mpint.empty() && (mpint[0] & 0x80) != 0)
        return Error("negative mpint");
    while (!mpint.empty() && mpint[0] == 0)
        mpint = mpint.subspan(1);
    if (mpint.size() > kMaxRsaBits / 8)
        return Error("mpint too large");
    return mpint;
}

Result<Bn> to_bn(ByteView magnitude) {
    BIGNUM* bn = BN_bin2bn(magnitude.data(), static_cast<int>(magnitude.size()), nullptr);
    if (bn == nullptr)
        return Error("out of memory");
    return Bn(bn);
}

Result<p11::Pkey> from_params(const char* type, OSSL_PARAM_BLD* bld) {
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* key = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
        return Error(std::string("not a valid ") + type + " public key");
    }
    return p11::Pkey(key);
}

Result<p11::Pkey> rsa_key(Reader& r) {
    ATTACHE_TRY(ByteView e_field, r.string());
    ATTACHE_TRY(ByteView n_field, r.string());
    ATTACHE_TRY(ByteView e, mpint_magnitude(e_field));
    ATTACHE_TRY(ByteView n, mpint_magnitude(n_field));
    if (e.empty() || (e.back() & 1) == 0 || (e.size() == 1 && e[0] == 1))
        return Error("RSA exponent is not odd and greater than 1");
    ATTACHE_TRY(Bn e_bn, to_bn(e));
    ATTACHE_TRY(Bn n_bn, to_bn(n));
    const int bits = BN_num_bits(n_bn.get());
    if (bits < kMinRsaBits || bits > kMaxRsaBits)
        return Error("RSA modulus of " + std::to_string(bits) + " bits");
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()))
        return Error("out of memory");
    return from_params("RSA", bld.get());
}

Result<p11::Pkey> ec_key(Reader& r, const EcdsaCurve& curve) {
    ATTACHE_TRY(ByteView name, r.string());
    if (as_chars(name) != curve.ssh_curve)
        return Error("EC curve \"" + std::string(as_chars(name)) +
                     "\" does not match the key type");
    ATTACHE_TRY(ByteView point, r.string());
    if (point.size() != 1 + 2 * curve.field_bytes || point[0] != 0x04)
        return Error("EC point is not an uncompressed point of the curve");
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size()))
        return Error("out of memory");
    ATTACHE_TRY(p11::Pkey key, from_params("EC", bld.get()));
    // sshkey_ec_validate_public: on the curve, not the point at infinity, of the right order.
    EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1)
        return Error("EC point is not a valid public key of the curve");
    return key;
}

Result<p11::Pkey> ed25519_key(Reader& r) {
    ATTACHE_TRY(ByteView a, r.string());
    if (a.size() != kEd25519KeyBytes)
        return Error("Ed25519 key of " + std::to_string(a.size()) + " bytes");
    EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, a.data(), a.size());
    if (key == nullptr)
        return Error("not a valid Ed25519 public key");
    return p11::Pkey(key);
}

Status digest_verify(const PublicKey& key, const EVP_MD* md, ByteView signature, ByteView data) {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.key.get()) != 1)
        return Error("cannot set up the signature check");
    if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size()) !=
        1)
        return Error("the signature does not verify");
    return ok();
}

Status verify_rsa(const PublicKey& key, std::string_view algorithm, ByteView sig, ByteView data) {
    const EVP_MD* md = algorithm == "rsa-sha2-256"   ? EVP_sha256()
                       : algorithm == "rsa-sha2-512" ? EVP_sha512()
                                                     : nullptr;
    if (md == nullptr) {
        return Error("RSA signature algorithm \"" + std::string(algorithm) +
                     "\" (only rsa-sha2-256 and rsa-sha2-512 are accepted)");
    }
    // ssh_rsa_verify: a signature longer than the modulus is wrong; a shorter one had its
    // leading zeros dropped by the signer and is padded back.
    const size_t modulus = static_cast<size_t>(EVP_PKEY_get_size(key.key.get()));
    if (sig.empty() || sig.size() > modulus)
        return Error("RSA signature of " + std::to_string(sig.size()) + " bytes");
    Bytes padded(modulus - sig.size(), 0);
    padded.insert(padded.end(), sig.begin(), sig.end());
    return digest_verify(key, md, padded, data);
}

Status verify_ecdsa(const PublicKey& key, ByteView sig, ByteView data) {
    Reader rs(sig);
    ATTACHE_TRY(ByteView r_field, rs.string());
    ATTACHE_TRY(ByteView s_field, rs.string());
    ATTACHE_CHECK(rs.expect_end());
    ATTACHE_TRY(ByteView r, mpint_magnitude(r_field));
    ATTACHE_TRY(ByteView s, mpint_magnitude(s_field));
    ATTACHE_TRY(Bn r_bn, to_bn(r));
    ATTACHE_TRY(Bn s_bn, to_bn(s));
    EcdsaSigPtr esig(ECDSA_SIG_new());
    if (!esig || ECDSA_SIG_set0(esig.get(), r_bn.get(), s_bn.get()) != 1)
        return Error("out of memory");
    (void)r_bn.release();  // owned by esig now
    (void)s_bn.release();
    unsigned char* der = nullptr;
    const int der_len = i2d_ECDSA_SIG(esig.get(), &der);
    if (der_len <= 0)
        return Error("cannot encode the ECDSA signature");
    const Bytes der_sig(der, der + der_len);
    OPENSSL_free(der);
    return digest_verify(key, curve_of(key.type)->md(), der_sig, data);
}

Result<PublicKey> key_fields(Reader& r, KeyType type) {
    PublicKey out;
    out.type = type;
    if (type == KeyType::kRsa) {
        ATTACHE_TRY(out.key, rsa_key(r));
    } else if (type == KeyType::kEd25519) {
        ATTACHE_TRY(out.key, ed25519_key(r));
    } else {
        ATTACHE_TRY(out.key, ec_key(r, *curve_of(type)));
    }
    return out;
}

constexpr std::string_view kCertSuffix = "-cert-v01@openssh.com";

// The fields of an OpenSSH certificate after its key (PROTOCOL.certkeys): uint64 serial,
// uint32 type, string key id, string principals, uint64 valid after, uint64 valid before,
// string critical options, string extensions, string reserved, string signature key, string
// signature. Only read over: the agent trusts no CA, it needs the certified key.
Status skip_certificate_fields(Reader& r) {
    ATTACHE_CHECK(r.bytes(8));
    ATTACHE_CHECK(r.u32());
    ATTACHE_CHECK(r.string());
    ATTACHE_CHECK(r.string());
    ATTACHE_CHECK(r.bytes(16));
    for (int i = 0; i < 5; ++i)
        ATTACHE_CHECK(r.string());
    return ok();
}

}  // namespace

Result<PublicKey> parse_public_key_blob(ByteView blob) {
    Reader r(blob);
    ATTACHE_TRY(ByteView name, r.string());
    ATTACHE_TRY(KeyType type, key_type_from_name(as_chars(name)));
    ATTACHE_TRY(PublicKey out, key_fields(r, type));
    ATTACHE_CHECK(r.expect_end());
    return out;
}

Result<PublicKey> parse_host_key_blob(ByteView blob) {
    Reader r(blob);
    ATTACHE_TRY(ByteView name_field, r.string());
    std::string_view name = as_chars(name_field);
    if (name.size() <= kCertSuffix.size() || !name.ends_with(kCertSuffix))
        return parse_public_key_blob(blob);
    name.remove_suffix(kCertSuffix.size());
    ATTACHE_TRY(KeyType type, key_type_from_name(name));
    ATTACHE_CHECK(r.string());  // nonce
    ATTACHE_TRY(PublicKey out, key_fields(r, type));
    if (Status rest = skip_certificate_fields(r); !rest)
        return std::move(rest).error().context("host certificate");
    ATTACHE_CHECK(r.expect_end());
    return out;
}

namespace {

Status verify_with(const PublicKey& key, ByteView signature_blob, ByteView data);

}  // namespace

Status verify_signature_blob(ByteView key_blob, ByteView signature_blob, ByteView data) {
    ATTACHE_TRY(PublicKey key, parse_public_key_blob(key_blob));
    return verify_with(key, signature_blob, data);
}

namespace {

Status verify_with(const PublicKey& key, ByteView signature_blob, ByteView data) {
    Reader r(signature_blob);
    ATTACHE_TRY(ByteView algorithm_field, r.string());
    ATTACHE_TRY(ByteView sig, r.string());
    ATTACHE_CHECK(r.expect_end());
    const std::string_view algorithm = as_chars(algorithm_field);
    switch (key.type) {
        case KeyType::kRsa:
            return verify_rsa(key, algorithm, sig, data);
        case KeyType::kEcdsaP256:
        case KeyType::kEcdsaP384:
        case KeyType::kEcdsaP521:
        case KeyType::kEd25519:
            if (algorithm != key_type_name(key.type)) {
                return Error("signature algorithm \"" + std::string(algorithm) +
                             "\" does not match the " + std::string(key_type_name(key.type)) +
                             " key");
            }
            if (key.type != KeyType::kEd25519)
                return verify_ecdsa(key, sig, data);
            if (sig.size() != kEd25519SignatureBytes)
                return Error("Ed25519 signature of " + std::to_string(sig.size()) + " bytes");
            return digest_verify(key, nullptr, sig, data);
    }
    return Error("unknown key type");
}

}  // namespace

Status verify_session_bind(const SessionBind& bind) {
    if (bind.session_id.empty())
        return Error("session-bind: empty session id");
    if (bind.session_id.size() > kMaxSessionIdSize) {
        return Error("session-bind: session id of " + std::to_string(bind.session_id.size()) +
                     " bytes (at most " + std::to_string(kMaxSessionIdSize) + ")");
    }
    auto host = parse_host_key_blob(bind.hostkey);
    if (!host) {
        return std::move(host).error().context("session-bind: host key " +
                                               fingerprint_sha256(bind.hostkey));
    }
    if (Status verified = verify_with(*host, bind.signature, bind.session_id); !verified) {
        return std::move(verified).error().context("session-bind: host key " +
                                                   fingerprint_sha256(bind.hostkey));
    }
    return ok();
}

}  // namespace attache::ssh
