#include "cli/admin/piv/piv_card.h"

#include <cstdio>

#include "cli/admin/piv/tlv.h"

namespace attache::cli::admin::piv {
namespace {

constexpr std::uint8_t kSelect = 0xA4;
constexpr std::uint8_t kVerify = 0x20;
constexpr std::uint8_t kGenerate = 0x47;
constexpr std::uint8_t kGetData = 0xCB;
constexpr std::uint8_t kPutData = 0xDB;
constexpr std::uint8_t kPinRef = 0x80;

constexpr std::uint8_t kPivAid[] = {0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00};

// DER OIDs of the curves (the ECParameters OpenSSL takes).
const Bytes kP256Params = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
const Bytes kP384Params = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22};

// The BER-TLV tag of the slot's certificate object (5C in GET DATA and PUT DATA).
Bytes certificate_tag(Slot slot) {
    switch (slot) {
        case Slot::authentication:
            return {0x5F, 0xC1, 0x05};
        case Slot::signature:
            return {0x5F, 0xC1, 0x0A};
        case Slot::key_management:
            return {0x5F, 0xC1, 0x0B};
        case Slot::card_auth:
            return {0x5F, 0xC1, 0x01};
    }
    return {};
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

Error card_refused(const std::string& what, std::uint16_t sw) {
    return Error("the card refused " + what + ": " + status_word_text(sw));
}

}  // namespace

std::string slot_name(Slot slot) {
    char text[4];
    std::snprintf(text, sizeof text, "%02X", static_cast<unsigned>(slot));
    return text;
}

std::optional<std::uint8_t> piv_algorithm(p11::KeyAlgorithm algorithm) {
    switch (algorithm) {
        case p11::KeyAlgorithm::rsa2048:
            return 0x07;
        case p11::KeyAlgorithm::rsa3072:
            return 0x05;
        case p11::KeyAlgorithm::ec_p256:
            return 0x11;
        case p11::KeyAlgorithm::ec_p384:
            return 0x14;
        case p11::KeyAlgorithm::rsa4096:
        case p11::KeyAlgorithm::ed25519:
            return std::nullopt;
    }
    return std::nullopt;
}

Bytes opensc_key_id(Slot slot) {
    switch (slot) {
        case Slot::authentication:
            return {0x01};
        case Slot::signature:
            return {0x02};
        case Slot::key_management:
            return {0x03};
        case Slot::card_auth:
            return {0x04};
    }
    return {};
}

Status select_piv(PcscCard& card) {
    ATTACHE_TRY(Response r, card.command(kSelect, 0x04, 0x00, kPivAid));
    if (!r.ok())
        return Error("the card in '" + card.reader() +
                     "' has no PIV application: SELECT answered " + status_word_text(r.sw));
    return {};
}

Result<std::optional<int>> pin_tries_left(PcscCard& card) {
    ATTACHE_TRY(Response r, card.command(kVerify, 0x00, kPinRef, {}));
    if (r.ok())
        return std::optional<int>();
    if (r.sw == 0x6983)
        return std::optional<int>(0);
    if ((r.sw & 0xFFF0) == 0x63C0)
        return std::optional<int>(r.sw & 0x0F);
    return card_refused("the PIN status request", r.sw);
}

Status verify_pin(PcscCard& card, const Secret& pin) {
    if (pin.size() > 8)
        return Error("a PIV PIN has at most 8 characters");
    Bytes data(8, 0xFF);
    std::copy(pin.data(), pin.data() + pin.size(), data.begin());
    auto r = card.command(kVerify, 0x00, kPinRef, data);
    std::fill(data.begin(), data.end(), 0);
    if (!r)
        return std::move(r).error();
    if (r->ok())
        return {};
    if ((r->sw & 0xFFF0) == 0x63C0)
        return Error("the PIN was not accepted; the card says " + std::to_string(r->sw & 0x0F) +
                         " tries left. Attache never retries a PIN",
                     CKR_PIN_INCORRECT);
    if (r->sw == 0x6983)
        return Error("the PIN is blocked; unblock it with the PUK (`attache pin unblock`)",
                     CKR_PIN_LOCKED);
    return card_refused("the PIN", r->sw);
}

Result<p11::Pkey> generate(PcscCard& card, Slot slot, p11::KeyAlgorithm algorithm) {
    const std::optional<std::uint8_t> alg = piv_algorithm(algorithm);
    if (!alg)
        return Error("PIV cards have no " + std::string(p11::key_algorithm_name(algorithm)) +
                     " keys");
    const Bytes control = tlv(0xAC, tlv(0x80, Bytes{*alg}));
    ATTACHE_TRY(Response r,
                card.command(kGenerate, 0x00, static_cast<std::uint8_t>(slot), control));
    if (r.sw == 0x6982)
        return Error("the card refused GENERATE ASYMMETRIC KEY PAIR in " + slot_name(slot) +
                     ": the management key is not authenticated");
    if (!r.ok())
        return card_refused("GENERATE ASYMMETRIC KEY PAIR in " + slot_name(slot), r.sw);
    ATTACHE_TRY(std::optional<Bytes> templ, find_tlv(r.data, 0x7F49));
    if (!templ)
        return Error("the card's GENERATE answer has no public key template (7F49)");
    if (algorithm == p11::KeyAlgorithm::ec_p256 || algorithm == p11::KeyAlgorithm::ec_p384) {
        ATTACHE_TRY(std::optional<Bytes> point, find_tlv(*templ, 0x86));
        if (!point)
            return Error("the card's GENERATE answer has no EC point (86)");
        return p11::ec_public_key(
            algorithm == p11::KeyAlgorithm::ec_p256 ? kP256Params : kP384Params, *point);
    }
    ATTACHE_TRY(std::optional<Bytes> modulus, find_tlv(*templ, 0x81));
    ATTACHE_TRY(std::optional<Bytes> exponent, find_tlv(*templ, 0x82));
    if (!modulus || !exponent)
        return Error("the card's GENERATE answer has no RSA modulus (81) or exponent (82)");
    return p11::rsa_public_key(*modulus, *exponent);
}

Result<Bytes> private_key_operation(PcscCard& card, Slot slot, p11::KeyAlgorithm algorithm,
                                    std::span<const std::uint8_t> input) {
    const std::optional<std::uint8_t> alg = piv_algorithm(algorithm);
    if (!alg)
        return Error("PIV cards have no " + std::string(p11::key_algorithm_name(algorithm)) +
                     " keys");
    const Bytes items = concat({tlv(0x82, {}), tlv(0x81, input)});
    ATTACHE_TRY(Response r, card.command(kGeneralAuthenticate, *alg,
                                         static_cast<std::uint8_t>(slot), tlv(0x7C, items)));
    if (!r.ok())
        return card_refused("the private-key operation of " + slot_name(slot), r.sw);
    ATTACHE_TRY(std::optional<Bytes> outer, find_tlv(r.data, 0x7C));
    if (!outer)
        return Error("the card's GENERAL AUTHENTICATE answer has no 7C template");
    ATTACHE_TRY(std::optional<Bytes> result, find_tlv(*outer, 0x82));
    if (!result)
        return Error("the card's GENERAL AUTHENTICATE answer has no response (82)");
    return std::move(*result);
}

Result<std::optional<Bytes>> read_certificate(PcscCard& card, Slot slot) {
    ATTACHE_TRY(Response r, card.command(kGetData, 0x3F, 0xFF, tlv(0x5C, certificate_tag(slot))));
    if (r.sw == 0x6A82)
        return std::optional<Bytes>();
    if (!r.ok())
        return card_refused("reading the certificate object of " + slot_name(slot), r.sw);
    ATTACHE_TRY(std::optional<Bytes> object, find_tlv(r.data, 0x53));
    if (!object)
        return Error("the card's certificate object of " + slot_name(slot) + " has no 53 tag");
    ATTACHE_TRY(std::optional<Bytes> cert, find_tlv(*object, 0x70));
    return cert;
}

Status write_certificate(PcscCard& card, Slot slot, std::span<const std::uint8_t> der) {
    // CertInfo 71 = 00: not compressed; the error detection code FE is empty.
    const Bytes object = concat({tlv(0x70, der), tlv(0x71, Bytes{0x00}), tlv(0xFE, {})});
    const Bytes data = concat({tlv(0x5C, certificate_tag(slot)), tlv(0x53, object)});
    ATTACHE_TRY(Response r, card.command(kPutData, 0x3F, 0xFF, data));
    if (r.sw == 0x6982)
        return Error("the card refused to write the certificate of " + slot_name(slot) +
                     ": the management key is not authenticated");
    if (!r.ok())
        return card_refused("writing the certificate of " + slot_name(slot), r.sw);
    return {};
}

}  // namespace attache::cli::admin::piv
