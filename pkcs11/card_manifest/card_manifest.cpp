#include "pkcs11/card_manifest/card_manifest.h"

#include <nlohmann/json.hpp>

namespace attache::manifest {
namespace {

using nlohmann::json;

nlohmann::ordered_json card_json(const ManifestCard& card) {
    nlohmann::ordered_json keys = nlohmann::ordered_json::array();
    for (const auto& k : card.keys) {
        if (k.role.empty())
            keys.push_back({{"spki_sha256", k.spki_sha256}});
        else
            keys.push_back({{"role", k.role}, {"spki_sha256", k.spki_sha256}});
    }
    return {{"serial", card.serial}, {"model", card.model}, {"manufacturer", card.manufacturer},
            {"holder", card.holder}, {"state", card.state}, {"keys", std::move(keys)}};
}

Result<std::string> string_field(const json& object, const char* name, const std::string& where) {
    auto it = object.find(name);
    if (it == object.end() || !it->is_string())
        return Error(where + ": `" + name + "` is missing or not a string");
    return it->get<std::string>();
}

bool is_hex_sha256(const std::string& s) {
    if (s.size() != 64)
        return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

Result<ManifestCard> parse_card(const json& j, const std::string& where) {
    if (!j.is_object())
        return Error(where + ": not an object");
    ManifestCard card;
    ATTACHE_TRY(card.serial, string_field(j, "serial", where));
    ATTACHE_TRY(card.model, string_field(j, "model", where));
    ATTACHE_TRY(card.manufacturer, string_field(j, "manufacturer", where));
    ATTACHE_TRY(card.holder, string_field(j, "holder", where));
    ATTACHE_TRY(card.state, string_field(j, "state", where));
    if (card.serial.empty() || card.holder.empty())
        return Error(where + ": `serial` and `holder` must not be empty");
    auto keys = j.find("keys");
    if (keys == j.end() || !keys->is_array())
        return Error(where + ": `keys` is missing or not a list");
    for (size_t i = 0; i < keys->size(); ++i) {
        const std::string kwhere = where + " key " + std::to_string(i + 1);
        const json& k = (*keys)[i];
        if (!k.is_object())
            return Error(kwhere + ": not an object");
        ManifestKey key;
        // `role` is optional: a key listed by its public key alone is still the card's.
        if (k.contains("role")) {
            ATTACHE_TRY(key.role, string_field(k, "role", kwhere));
        }
        ATTACHE_TRY(key.spki_sha256, string_field(k, "spki_sha256", kwhere));
        if (!is_hex_sha256(key.spki_sha256))
            return Error(kwhere + ": `spki_sha256` is not 64 lower-case hex digits");
        card.keys.push_back(std::move(key));
    }
    return card;
}

}  // namespace

bool ManifestCard::lists_key(std::string_view spki_sha256) const {
    for (const auto& k : keys) {
        if (k.spki_sha256 == spki_sha256 && !k.card_auth())
            return true;
    }
    return false;
}

const ManifestKey* ManifestCard::card_auth_key() const {
    for (const auto& k : keys) {
        if (k.card_auth())
            return &k;
    }
    return nullptr;
}

const ManifestCard* CardManifest::find(std::string_view serial, std::string_view model) const {
    for (const auto& c : cards) {
        if (c.serial == serial && c.model == model)
            return &c;
    }
    return nullptr;
}

std::string serialize(const CardManifest& manifest) {
    nlohmann::ordered_json head{
        {"format", kFormat}, {"issued_at", manifest.issued_at}, {"sequence", manifest.sequence}};
    std::string out = head.dump();
    out.pop_back();  // the closing brace: the cards follow, one per line
    out += ",\"cards\":[";
    for (size_t i = 0; i < manifest.cards.size(); ++i)
        out += (i ? ",\n" : "\n") + card_json(manifest.cards[i]).dump();
    out += "\n]}\n";
    return out;
}

Result<CardManifest> parse(std::string_view text) {
    const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
        return Error("the manifest is not a JSON object");
    ATTACHE_TRY(std::string format, string_field(j, "format", "the manifest"));
    if (format != kFormat)
        return Error("the manifest's format is '" + format + "', expected '" +
                     std::string(kFormat) + "' (a newer attache wrote it?)");
    CardManifest m;
    ATTACHE_TRY(m.issued_at, string_field(j, "issued_at", "the manifest"));
    auto seq = j.find("sequence");
    if (seq == j.end() || !seq->is_number_unsigned())
        return Error("the manifest: `sequence` is missing or not a number");
    m.sequence = seq->get<uint64_t>();
    auto cards = j.find("cards");
    if (cards == j.end() || !cards->is_array())
        return Error("the manifest: `cards` is missing or not a list");
    for (size_t i = 0; i < cards->size(); ++i) {
        ATTACHE_TRY(ManifestCard card,
                    parse_card((*cards)[i], "the manifest's card " + std::to_string(i + 1)));
        if (m.find(card.serial, card.model) != nullptr)
            return Error("the manifest names card " + card.serial + " twice");
        m.cards.push_back(std::move(card));
    }
    return m;
}

}  // namespace attache::manifest
