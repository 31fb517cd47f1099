#include "agent/core/token_manager.h"

#include "agent/core/agent_error.h"

namespace attache::agent {
namespace {

// A lookup that finds no key reads the tokens' key lists again, at most this often (a card
// reads its objects slowly; a client asking for unknown keys must not keep it busy).
constexpr std::chrono::milliseconds kRescanOnMissInterval{2000};

// The object part of the configured URI (id, label), without its class: the scan adds the
// classes it looks for.
p11::AttributeTemplate object_filter(const p11::Uri& uri) {
    p11::AttributeTemplate t;
    if (auto id = uri.id())
        t.add_bytes(CKA_ID, *id);
    if (auto label = uri.object_label())
        t.add_string(CKA_LABEL, *label);
    return t;
}

bool key_matches_uri(const p11::Uri& uri, const Token& token, const KeyRecord& key) {
    if (!uri.matches_token(token.info()))
        return false;
    if (auto klass = uri.object_class(); klass && *klass != CKO_PRIVATE_KEY)
        return false;
    if (auto id = uri.id(); id && *id != key.cka_id)
        return false;
    if (auto label = uri.object_label(); label && *label != key.label)
        return false;
    return true;
}

}  // namespace

TokenManager::TokenManager(Config config, EventLog log)
    : config_(std::move(config)),
      log_(std::move(log)),
      launch_(config_),
      time_locks_(
          {config_.idle_lock, config_.max_unlocked}, [this] { return tokens_.all(); }, log_) {
    auto uri = p11::Uri::parse(config_.tokens);
    if (uri)
        filter_ = std::move(*uri);  // validated when the config was loaded
    settings_.poll_interval = config_.poll_interval;
    settings_.filter = filter_;
    settings_.helpers_per_token = config_.helpers_per_token;
    settings_.token.workers = config_.workers_per_token;  // 0: session_pool_capacity's default
    settings_.token.scan.allow_extractable_keys = config_.allow_extractable_keys;
    settings_.token.scan.object_filter = object_filter(filter_);
}

TokenManager::~TokenManager() {
    stop();
}

Status TokenManager::start() {
    for (size_t i = 0; i < config_.modules.size(); ++i) {
        auto watcher = std::make_unique<ModuleWatcher>(i, config_.modules[i], launch_, tokens_,
                                                       settings_, log_);
        ATTACHE_CHECK(watcher->load());
        watchers_.push_back(std::move(watcher));
    }
    poll();
    return ok();
}

void TokenManager::start_monitor() {
    for (auto& w : watchers_)
        w->start();
    time_locks_.start();
}

void TokenManager::stop() {
    time_locks_.stop();
    for (auto& w : watchers_)
        w->stop();
}

void TokenManager::poll() {
    for (auto& w : watchers_)
        w->poll();
    time_locks_.apply();
}

std::vector<std::shared_ptr<Token>> TokenManager::tokens() const {
    return tokens_.all();
}

Result<KeyMatch> TokenManager::find_key(std::string_view ref) const {
    if (ref.empty())
        return agent_error(ErrorCode::unknown_key, "no key named");
    std::optional<p11::Uri> uri;
    if (ref.starts_with("pkcs11:")) {
        auto parsed = p11::Uri::parse(ref);
        if (!parsed)
            return agent_error(ErrorCode::bad_request, parsed.error().message());
        uri = std::move(*parsed);
    }
    auto matching = [&](bool present) {
        std::vector<KeyMatch> matches;
        for (const auto& token : tokens()) {
            if (token->present() != present)
                continue;
            for (const auto& key : token->keys()) {
                if (uri ? key_matches_uri(*uri, *token, *key) : key->id == ref)
                    matches.push_back({token, key});
            }
        }
        return matches;
    };
    std::vector<KeyMatch> matches = matching(true);
    if (matches.empty()) {
        // Objects added while the card is in (a certificate imported, a key generated) are
        // seen once the list is read again.
        bool reread = false;
        for (const auto& token : tokens())
            reread =
                (token->present() && token->rescan_if_older_than(kRescanOnMissInterval)) || reread;
        if (reread)
            matches = matching(true);
    }
    if (matches.empty()) {
        // The key of a card that was pulled: say so, rather than "no such key".
        std::vector<KeyMatch> pulled = matching(false);
        if (!pulled.empty())
            return pulled.front().token->absent_error();
        return agent_error(ErrorCode::unknown_key,
                           "no key matches '" + std::string(ref) + "'; see `attache keys`");
    }
    if (matches.size() > 1) {
        return agent_error(ErrorCode::unknown_key,
                           "several keys match '" + std::string(ref) + "'; name one by its key id");
    }
    return matches.front();
}

Result<std::shared_ptr<Token>> TokenManager::find_token(std::string_view uri_text) const {
    std::optional<p11::Uri> uri;
    if (!uri_text.empty()) {
        auto parsed = p11::Uri::parse(uri_text);
        if (!parsed)
            return agent_error(ErrorCode::bad_request, parsed.error().message());
        uri = std::move(*parsed);
    }
    std::vector<std::shared_ptr<Token>> matches;
    for (const auto& t : tokens()) {
        if (t->present() && (!uri || uri->matches_token(t->info())))
            matches.push_back(t);
    }
    if (matches.empty()) {
        return agent_error(ErrorCode::unknown_token,
                           uri ? "no token present matches '" + std::string(uri_text) + "'"
                               : std::string("no token is present; insert your card"));
    }
    if (matches.size() > 1) {
        return agent_error(ErrorCode::ambiguous_token,
                           "several tokens are present; choose one with --token URI (see "
                           "`attache status`)");
    }
    return matches.front();
}

std::vector<std::string> TokenManager::module_paths() const {
    std::vector<std::string> out;
    for (const auto& w : watchers_)
        out.push_back(w->path());
    return out;
}

int TokenManager::lock_all(const std::string& reason) {
    // A module hung in a call would hold up the logouts after it: every token is locked first.
    std::vector<std::shared_ptr<Token>> locked;
    for (const auto& t : tokens()) {
        if (t->lock_now(reason))
            locked.push_back(t);
    }
    for (const auto& t : locked)
        t->end_login();
    return static_cast<int>(locked.size());
}

}  // namespace attache::agent
