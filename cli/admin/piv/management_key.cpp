#include "cli/admin/piv/management_key.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "cli/admin/piv/piv_card.h"
#include "cli/admin/piv/tlv.h"

namespace attache::cli::admin::piv {
namespace {

constexpr std::uint8_t kManagementKeyRef = 0x9B;

std::uint8_t alg_byte(ManagementAlg alg) {
    switch (alg) {
        case ManagementAlg::tdes:
            return 0x03;
        case ManagementAlg::aes128:
            return 0x08;
        case ManagementAlg::aes192:
            return 0x0A;
        case ManagementAlg::aes256:
            return 0x0C;
    }
    return 0;
}

size_t key_length(ManagementAlg alg) {
    switch (alg) {
        case ManagementAlg::tdes:
            return 24;
        case ManagementAlg::aes128:
            return 16;
        case ManagementAlg::aes192:
            return 24;
        case ManagementAlg::aes256:
            return 32;
    }
    return 0;
}

size_t block_size(ManagementAlg alg) {
    return alg == ManagementAlg::tdes ? 8 : 16;
}

const EVP_CIPHER* cipher(ManagementAlg alg) {
    switch (alg) {
        case ManagementAlg::tdes:
            return EVP_des_ede3_ecb();
        case ManagementAlg::aes128:
            return EVP_aes_128_ecb();
        case ManagementAlg::aes192:
            return EVP_aes_192_ecb();
        case ManagementAlg::aes256:
            return EVP_aes_256_ecb();
    }
    return nullptr;
}

int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// One block through the block cipher (ECB, no padding): the card's own primitive.
Result<Bytes> crypt_block(ManagementAlg alg, const Secret& key, std::span<const std::uint8_t> in,
                          bool encrypt) {
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                        EVP_CIPHER_CTX_free);
    Bytes out(in.size() + 32);
    int len = 0;
    int final_len = 0;
    if (!ctx ||
        EVP_CipherInit_ex(ctx.get(), cipher(alg), nullptr, key.data(), nullptr, encrypt ? 1 : 0) !=
            1 ||
        EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
        EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) !=
            1 ||
        EVP_CipherFinal_ex(ctx.get(), out.data() + len, &final_len) != 1) {
        return Error("the management-key cipher failed (OpenSSL)");
    }
    out.resize(static_cast<size_t>(len + final_len));
    return out;
}

Result<Response> general_authenticate(PcscCard& card, ManagementAlg alg, const Bytes& items) {
    return card.command(kGeneralAuthenticate, alg_byte(alg), kManagementKeyRef, tlv(0x7C, items));
}

// Step 1: the card's witness, encrypted. nullopt when the card says its key is of another
// algorithm (6A86 / 6A80).
Result<std::optional<Bytes>> request_witness(PcscCard& card, ManagementAlg alg) {
    ATTACHE_TRY(Response r, general_authenticate(card, alg, tlv(0x80, {})));
    if (r.sw == 0x6A86 || r.sw == 0x6A80)
        return std::optional<Bytes>();
    if (!r.ok())
        return Error("the card refused the management-key authentication: " +
                     status_word_text(r.sw));
    ATTACHE_TRY(std::optional<Bytes> outer, find_tlv(r.data, 0x7C));
    if (!outer)
        return Error("the card's witness has no 7C template");
    ATTACHE_TRY(std::optional<Bytes> witness, find_tlv(*outer, 0x80));
    if (!witness || witness->size() != block_size(alg))
        return Error("the card's witness is not one " + std::string(management_alg_name(alg)) +
                     " block");
    return witness;
}

}  // namespace

std::optional<ManagementAlg> management_alg_from_name(std::string_view name) {
    if (name == "3des")
        return ManagementAlg::tdes;
    if (name == "aes128")
        return ManagementAlg::aes128;
    if (name == "aes192")
        return ManagementAlg::aes192;
    if (name == "aes256")
        return ManagementAlg::aes256;
    return std::nullopt;
}

std::string_view management_alg_name(ManagementAlg alg) {
    switch (alg) {
        case ManagementAlg::tdes:
            return "3des";
        case ManagementAlg::aes128:
            return "aes128";
        case ManagementAlg::aes192:
            return "aes192";
        case ManagementAlg::aes256:
            return "aes256";
    }
    return "?";
}

Result<ManagementKey> parse_management_key(const Secret& hex, std::optional<ManagementAlg> alg) {
    ManagementKey out;
    int high = -1;
    for (size_t i = 0; i < hex.size(); ++i) {
        const unsigned char c = hex.data()[i];
        if (c == ' ' || c == ':')
            continue;
        const int v = hex_value(c);
        if (v < 0)
            return Error("the management key must be hex digits (spaces and colons allowed)");
        if (high < 0) {
            high = v;
        } else if (!out.key.push_back(static_cast<unsigned char>(high * 16 + v))) {
            return Error("the management key is too long");
        } else {
            high = -1;
        }
    }
    if (high >= 0)
        return Error("the management key has an odd number of hex digits");
    const size_t n = out.key.size();
    if (n != 16 && n != 24 && n != 32)
        return Error("the management key has " + std::to_string(n) +
                     " bytes; PIV keys have 24 (3DES, AES-192), 16 (AES-128) or 32 (AES-256)");
    if (alg && key_length(*alg) != n)
        return Error("a " + std::string(management_alg_name(*alg)) + " management key has " +
                     std::to_string(key_length(*alg)) + " bytes, this one " + std::to_string(n));
    out.alg = alg;
    return out;
}

Status authenticate(PcscCard& card, const ManagementKey& key) {
    std::vector<ManagementAlg> candidates;
    if (key.alg)
        candidates = {*key.alg};
    else if (key.key.size() == 16)
        candidates = {ManagementAlg::aes128};
    else if (key.key.size() == 32)
        candidates = {ManagementAlg::aes256};
    else
        candidates = {ManagementAlg::tdes, ManagementAlg::aes192};

    for (ManagementAlg alg : candidates) {
        ATTACHE_TRY(std::optional<Bytes> encrypted_witness, request_witness(card, alg));
        if (!encrypted_witness)
            continue;
        ATTACHE_TRY(Bytes witness, crypt_block(alg, key.key, *encrypted_witness, false));
        Bytes challenge(block_size(alg));
        if (RAND_bytes(challenge.data(), static_cast<int>(challenge.size())) != 1)
            return Error("no random bytes for the management-key challenge");
        Bytes items = tlv(0x80, witness);
        const Bytes c = tlv(0x81, challenge);
        items.insert(items.end(), c.begin(), c.end());
        OPENSSL_cleanse(witness.data(), witness.size());
        ATTACHE_TRY(Response r, general_authenticate(card, alg, items));
        if (r.sw == 0x6982 || r.sw == 0x6A80)
            return Error("the card refused the management key (wrong " +
                             std::string(management_alg_name(alg)) +
                             " key: the card's witness did not decrypt to what it sent); nothing "
                             "was written",
                         CKR_PIN_INCORRECT);
        if (r.sw == 0x6983)
            return Error("the card's management key is blocked", CKR_PIN_LOCKED);
        if (!r.ok())
            return Error("management-key authentication failed: " + status_word_text(r.sw));
        ATTACHE_TRY(std::optional<Bytes> outer, find_tlv(r.data, 0x7C));
        std::optional<Bytes> response;
        if (outer) {
            ATTACHE_TRY(response, find_tlv(*outer, 0x82));
        }
        ATTACHE_TRY(Bytes expected, crypt_block(alg, key.key, challenge, true));
        if (!response || *response != expected)
            return Error(
                "the card accepted the management key but did not prove it knows it "
                "(its response to our challenge is wrong): not a genuine PIV card?");
        return {};
    }
    return Error("the card's management key is not of the algorithm this key's length allows (" +
                 std::to_string(key.key.size()) + " bytes); give --management-key-alg");
}

}  // namespace attache::cli::admin::piv
