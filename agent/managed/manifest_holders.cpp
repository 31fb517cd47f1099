#include "agent/managed/manifest_holders.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "agent/core/log.h"
#include "agent/managed/card_auth_challenge.h"
#include "pkcs11/card_manifest/manifest_signature.h"

namespace attache::agent {
namespace {

Result<std::string> read_small_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Error("cannot read " + path.string());
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    if (s.size() > 16 * 1024 * 1024)
        return Error(path.string() + " is larger than 16 MiB");
    return s;
}

std::string signature_path(const ManifestFiles& files) {
    return files.manifest.string() + ".sig";
}

}  // namespace

Result<std::shared_ptr<ManifestHolders>> ManifestHolders::load(ManifestFiles files) {
    std::shared_ptr<ManifestHolders> holders(new ManifestHolders(std::move(files)));
    std::lock_guard lock(holders->mutex_);
    holders->stamps_ = holders->stamps();
    holders->stamped_at_ = std::chrono::steady_clock::now();
    ATTACHE_TRY(holders->current_, holders->read_verified());
    log_info("card manifest " + holders->files_.manifest.string() + ": " +
             std::to_string(holders->current_.cards.size()) + " card(s), sequence " +
             std::to_string(holders->current_.sequence) + ", issued " +
             holders->current_.issued_at);
    return holders;
}

uint64_t ManifestHolders::sequence() const {
    std::lock_guard lock(mutex_);
    return current_.sequence;
}

std::pair<FileStamp, FileStamp> ManifestHolders::stamps() const {
    auto stamp = [](const std::string& path) {
        struct stat st {};
        if (stat(path.c_str(), &st) != 0)
            return FileStamp{};
        return FileStamp{static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
                         st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec};
    };
    return {stamp(files_.manifest.string()), stamp(signature_path(files_))};
}

Result<manifest::CardManifest> ManifestHolders::read_verified() const {
    ATTACHE_TRY(std::string text, read_small_file(files_.manifest));
    ATTACHE_TRY(std::string signature, read_small_file(signature_path(files_)));
    ATTACHE_TRY(std::string signer, read_small_file(files_.signer));
    ATTACHE_CHECK(
        manifest::verify_manifest(text, signature, signer).context(files_.manifest.string()));
    auto parsed = manifest::parse(text);
    if (!parsed)
        return std::move(parsed).error().context(files_.manifest.string());
    return parsed;
}

void ManifestHolders::reload_if_changed_locked() {
    const auto at = std::chrono::steady_clock::now();
    if (at - stamped_at_ < kManifestRecheck)
        return;
    stamped_at_ = at;
    const auto now = stamps();
    if (now == stamps_)
        return;
    stamps_ = now;
    auto next = read_verified();
    if (!next) {
        broken_ = next.error().message();
        log_error(
            "the card manifest changed and does not verify; no card is served until it "
            "does: " +
            broken_);
        return;
    }
    if (next->sequence < current_.sequence) {
        broken_ = "the new card manifest (sequence " + std::to_string(next->sequence) +
                  ") is older than the one in use (" + std::to_string(current_.sequence) + ")";
        log_error(broken_ + "; no card is served until a newer one is installed");
        return;
    }
    current_ = std::move(*next);
    broken_.clear();
    log_info("card manifest reloaded: " + std::to_string(current_.cards.size()) +
             " card(s), sequence " + std::to_string(current_.sequence));
}

const manifest::ManifestCard* ManifestHolders::card_locked(const Token& token) const {
    return current_.find(token.serial(), token.info().model);
}

CardVerdict ManifestHolders::check_card(const Token& token, const std::string& user) {
    std::lock_guard lock(mutex_);
    reload_if_changed_locked();
    const std::string name = "the card " + token.display_name();
    if (!broken_.empty())
        return {false, "no card is served: " + broken_ + "; tell your administrator", true};
    const manifest::ManifestCard* card = card_locked(token);
    if (card == nullptr)
        return {false, name + " is not in this workstation's card manifest", true};
    if (!card->active())
        return {false, name + " is marked " + card->state + " in the card manifest", true};
    // What the token shows must be the enrolled card's. Before any PIN: at least one key the
    // manifest lists, by its public key (a PIV card shows only its card-authentication key
    // then), so a token with a copied label and serial and keys of its own never sees a PIN.
    // Once unlocked: every key the manifest lists.
    size_t shown = 0;
    const manifest::ManifestKey* missing = nullptr;
    const auto keys = token.keys();
    for (const manifest::ManifestKey& k : card->keys) {
        bool found = false;
        for (const auto& key : keys)
            found = found || key->spki_sha256 == k.spki_sha256;
        shown += found ? 1 : 0;
        if (!found && missing == nullptr)
            missing = &k;
    }
    if (shown == 0 || (token.unlocked() && missing != nullptr))
        return {false,
                name + " does not show the " + (missing ? missing->role : std::string("enrolled")) +
                    " key the card manifest lists for it; it is not the enrolled card",
                true};
    if (user.empty() || card->holder != user)
        return {false, name + " belongs to another holder", false};
    return {true, {}, false};
}

bool ManifestHolders::lists_key(const Token& token, const KeyRecord& key) {
    std::lock_guard lock(mutex_);
    const manifest::ManifestCard* card = card_locked(token);
    return card != nullptr && broken_.empty() && card->lists_key(key.spki_sha256);
}

Status ManifestHolders::check_before_pin(Token& token) {
    std::string card_auth;
    {
        std::lock_guard lock(mutex_);
        reload_if_changed_locked();
        const manifest::ManifestCard* card = card_locked(token);
        if (card == nullptr || !broken_.empty())
            return Error("the card " + token.display_name() +
                         " is not served by the card manifest");
        if (const manifest::ManifestKey* k = card->card_auth_key())
            card_auth = k->spki_sha256;
    }
    if (card_auth.empty())
        return ok();
    // Outside the mutex: the card's signature takes a card round trip.
    Status s = card_auth_challenge(token, card_auth);
    if (!s)
        log_warning(s.error().message());
    return s;
}

}  // namespace attache::agent
