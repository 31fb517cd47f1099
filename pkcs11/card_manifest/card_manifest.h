#pragma once

// The card manifest: which cards a managed workstation's broker serves, to whom, and with
// which keys. Written on the enrolment station (`attache inventory export --manifest`), signed
// with the admin's key, verified by the broker (docs/admin-guide.md, "Managed mode").
//
// The signature covers the file's exact bytes (detached, in FILE.sig), so nothing is
// canonicalised: the broker verifies the bytes first and parses them only then.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pkcs11/result.h"

namespace attache::manifest {

constexpr std::string_view kFormat = "attache-card-manifest/1";

// The role of a PIV card's card-authentication key (slot 9E): usable without the PIN, so the
// broker has the card sign a fresh challenge with it before any PIN is sent, and serves it to no
// client (agent/managed/card_auth_challenge.h).
constexpr std::string_view kCardAuthRole = "card-auth";

struct ManifestKey {
    // "authentication", "encryption" or "card-auth"; empty when the manifest gives none (the
    // field is optional: a key without a role is listed, and never a card-auth key).
    std::string role;
    std::string spki_sha256;  // lower-case hex SHA-256 of the DER SubjectPublicKeyInfo

    bool card_auth() const { return role == kCardAuthRole; }
};

struct ManifestCard {
    std::string serial;  // the token's serial number, as CK_TOKEN_INFO gives it (trimmed)
    std::string model;
    std::string manufacturer;
    std::string holder;  // the holder's login name on the workstations
    std::string state;   // the inventory's state: only "active" cards are served
    std::vector<ManifestKey> keys;

    bool active() const { return state == "active"; }
    // Whether the manifest lists this key for clients: any of the card's keys but its card-auth
    // key, which only proves the card to the broker before the PIN.
    bool lists_key(std::string_view spki_sha256) const;
    // The card-auth key the manifest lists for the card, if any (the first).
    const ManifestKey* card_auth_key() const;
};

struct CardManifest {
    std::string issued_at;  // UTC, "2026-12-02T04:30:00Z"
    // Grows with every export of one inventory: a broker never goes back to a lower one.
    uint64_t sequence = 0;
    std::vector<ManifestCard> cards;

    // The card with this serial (and model), if the manifest names it.
    const ManifestCard* find(std::string_view serial, std::string_view model) const;
};

// The manifest's bytes: stable field order, one card per line (diffable).
std::string serialize(const CardManifest& manifest);

// Parses bytes whose signature was already verified. Errors name the field.
Result<CardManifest> parse(std::string_view text);

}  // namespace attache::manifest
