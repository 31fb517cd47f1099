#pragma once

// The card manifest as the broker's CardHolders (agent/core/card_holders.h): which cards it
// serves, to whom, with which keys. The manifest's signature is verified with the admin's
// public key before a byte of it is parsed; a manifest that changes on disk is verified and
// taken at the first request once kManifestRecheck has passed since the files were last looked
// at (a card marked lost is refused within that bound). A manifest that no longer verifies, or
// is older than the one in use, serves no card at all: the broker fails closed.

#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>

#include "agent/core/card_holders.h"
#include "pkcs11/card_manifest/card_manifest.h"

namespace attache::agent {

struct ManifestFiles {
    std::filesystem::path manifest;  // its signature is `manifest` + ".sig"
    std::filesystem::path signer;    // the admin's public key, PEM
};

// Which version of a file was read: a replaced or rewritten file has another stamp.
struct FileStamp {
    uint64_t inode = 0, size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
};

// How long the files on disk are taken as unchanged: every request checks the card, and a
// stat() of both files for each would be most of its cost. Also the longest a card marked lost
// in a newer manifest is still served.
inline constexpr std::chrono::milliseconds kManifestRecheck{100};

class ManifestHolders : public CardHolders {
  public:
    // Reads and verifies the manifest; an error stops the broker (no manifest, no cards).
    static Result<std::shared_ptr<ManifestHolders>> load(ManifestFiles files);

    CardVerdict check_card(const Token& token, const std::string& user) override;
    // The card-auth key is the broker's own check (check_before_pin), never served to a client.
    bool lists_key(const Token& token, const KeyRecord& key) override;
    // The card-auth challenge (card_auth_challenge.h) when the card's entry lists a card-auth
    // key; otherwise nothing, as before that role existed.
    Status check_before_pin(Token& token) override;

    uint64_t sequence() const;

  private:
    explicit ManifestHolders(ManifestFiles files) : files_(std::move(files)) {}

    std::pair<FileStamp, FileStamp> stamps() const;
    Result<manifest::CardManifest> read_verified() const;
    // Requires mutex_. Takes a changed manifest (or marks the set broken); looks at the files
    // at most once per kManifestRecheck.
    void reload_if_changed_locked();
    const manifest::ManifestCard* card_locked(const Token& token) const;

    const ManifestFiles files_;
    mutable std::mutex mutex_;
    manifest::CardManifest current_;
    std::pair<FileStamp, FileStamp> stamps_;
    std::chrono::steady_clock::time_point stamped_at_;  // when stamps_ were last compared
    std::string broken_;  // why no card is served; empty: the manifest is good
};

}  // namespace attache::agent
