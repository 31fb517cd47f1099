#include "cli/admin/piv_access.h"

#include <openssl/core_names.h>

#include "cli/admin/failure.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/piv/tlv.h"
#include "cli/secret_source.h"
#include "pkcs11/mechanism.h"

namespace attache::cli::admin {
namespace {

// GET DATA of the CHUID (5FC102): its GUID (34), or nullopt when absent or all zero (a card
// identified by its FASC-N only, whose OpenSC serial is made otherwise).
std::optional<Bytes> chuid_guid(piv::PcscCard& card) {
    const Bytes request = piv::tlv(0x5C, Bytes{0x5F, 0xC1, 0x02});
    auto r = card.command(0xCB, 0x3F, 0xFF, request);
    if (!r || !r->ok())
        return std::nullopt;
    auto object = piv::find_tlv(r->data, 0x53);
    if (!object || !*object)
        return std::nullopt;
    auto guid = piv::find_tlv(**object, 0x34);
    if (!guid || !*guid || (*guid)->size() != 16)
        return std::nullopt;
    for (std::uint8_t b : **guid) {
        if (b != 0)
            return *guid;
    }
    return std::nullopt;
}

// EMSA-PKCS1-v1_5 (RFC 8017 9.2): 00 01 FF..FF 00 DigestInfo, as long as the modulus.
Result<Bytes> pkcs1_block(std::span<const uint8_t> digest_info, size_t modulus_bytes) {
    if (digest_info.size() + 11 > modulus_bytes)
        return Error("the RSA modulus is too short for this digest");
    Bytes block(modulus_bytes, 0xFF);
    block[0] = 0x00;
    block[1] = 0x01;
    block[modulus_bytes - digest_info.size() - 1] = 0x00;
    std::copy(digest_info.begin(), digest_info.end(),
              block.end() - static_cast<std::ptrdiff_t>(digest_info.size()));
    return block;
}

}  // namespace

piv::PcscCard open_piv_card(const SelectedToken& token) {
    auto slot = check(token.module.slot_info(token.slot), "reading the slot's description");
    auto card = check(piv::PcscCard::connect(slot.description),
                      "reaching the PIV card through PC/SC (is pcscd running?)");
    check(piv::select_piv(card));
    if (std::optional<Bytes> guid = chuid_guid(card)) {
        const std::string serial = hex(Bytes(guid->end() - 8, guid->end()));
        if (serial != token.info.serial)
            fail(kMismatch, "the card in reader '" + card.reader() + "' has serial " + serial +
                                ", not " + token.info.serial +
                                " (the card was swapped?); nothing was changed");
    }
    return card;
}

piv::ManagementKey read_management_key(const std::string& source,
                                       std::optional<piv::ManagementAlg> alg) {
    auto text = read_secret(source, "PIV management key (hex): ");
    if (!text)
        fail(kFailure, "reading the management key: " + text.error().message());
    text->strip_newline();
    return check(piv::parse_management_key(*text, alg), "the management key", kUsage);
}

void authenticate_management_key(piv::PcscCard& card, const piv::ManagementKey& key) {
    // Not check(): its CKR_PIN_INCORRECT wording is about PINs.
    if (Status s = piv::authenticate(card, key); !s)
        fail(exit_code_for(s.error()), s.error().message());
}

void verify_piv_pin(piv::PcscCard& card, const Secret& pin) {
    auto tries = check(piv::pin_tries_left(card), "reading the PIN's state");
    if (tries && *tries == 0)
        fail(kPinBlocked,
             "the card's PIN is blocked; unblock it with the PUK (`attache pin "
             "unblock`). It was not presented");
    if (tries && *tries == 1)
        fail(kFinalTry,
             "the card has one PIN try left; Attache does not spend it here. Check the "
             "PIN with the holder (`attache pin status`), or unblock it with the PUK. "
             "It was not presented");
    check(piv::verify_pin(card, pin), "the user PIN");
}

CardSigner piv_signer(piv::PcscCard& card, piv::Slot slot, p11::KeyAlgorithm algorithm,
                      EVP_PKEY* public_key) {
    const size_t modulus_bytes = static_cast<size_t>(EVP_PKEY_get_size(public_key));
    return
        [&card, slot, algorithm, modulus_bytes](const CardSignatureAlgorithm& how,
                                                std::span<const uint8_t> message) -> Result<Bytes> {
            if (!how.hash)
                return Error("PIV keys do not sign without a digest");
            Bytes input = p11::digest(*how.hash, message);
            if (how.mechanism == CKM_RSA_PKCS) {
                ATTACHE_TRY(input, pkcs1_block(p11::digest_info(*how.hash, input), modulus_bytes));
            }
            return piv::private_key_operation(card, slot, algorithm, input);
        };
}

std::optional<p11::KeyAlgorithm> piv_key_algorithm(EVP_PKEY* public_key) {
    if (EVP_PKEY_is_a(public_key, "RSA")) {
        switch (EVP_PKEY_get_bits(public_key)) {
            case 2048:
                return p11::KeyAlgorithm::rsa2048;
            case 3072:
                return p11::KeyAlgorithm::rsa3072;
            default:
                return std::nullopt;
        }
    }
    if (EVP_PKEY_is_a(public_key, "EC")) {
        char curve[64] = {};
        size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(public_key, OSSL_PKEY_PARAM_GROUP_NAME, curve,
                                           sizeof curve, &len) != 1)
            return std::nullopt;
        const std::string name(curve, len);
        if (name == "prime256v1" || name == "P-256")
            return p11::KeyAlgorithm::ec_p256;
        if (name == "secp384r1" || name == "P-384")
            return p11::KeyAlgorithm::ec_p384;
    }
    return std::nullopt;
}

}  // namespace attache::cli::admin
