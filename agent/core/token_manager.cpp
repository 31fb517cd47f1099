#include "agent/core/token_manager.h"

#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <set>

#include "agent/core/agent_error.h"
#include "pkcs11/forwarding/identity.h"

namespace attache::agent {
namespace {

// What attache-pkcs11.so reports as its manufacturer, in CK_INFO and in every CK_SLOT_INFO.
constexpr std::string_view kForwardingManufacturer = forwarding::kManufacturer;

bool is_forwarding_module(const unsigned char (&manufacturer)[32]) {
    return p11::trim_padded(manufacturer, sizeof manufacturer) == kForwardingManufacturer;
}

// Modules known to sleep in a blocking C_WaitForSlotEvent until pcscd reports a change (and to
// return on each one): OpenSC. Others keep the non-blocking checks between polls; a module
// that answered a blocking call at once would otherwise turn the waiter into a busy poll.
constexpr const char* kBlockingEventsManufacturer = "OpenSC Project";

// How often modules whose C_WaitForSlotEvent answers only without blocking are asked, between
// full polls, whether a card came or went. Modules that block in it (OpenSC) wake the monitor
// themselves (slot_events.h).
constexpr std::chrono::milliseconds kSlotEventCheckInterval{100};
// With every module reporting events by a blocking wait, a full poll is only the backstop.
constexpr std::chrono::milliseconds kBlockingPollInterval{60'000};
// A lookup that finds no key reads the tokens' key lists again, at most this often (a card
// reads its objects slowly; a client asking for unknown keys must not keep it busy).
constexpr std::chrono::milliseconds kRescanOnMissInterval{2000};
// Events drained per module and check (a burst of insertions needs one poll, not many).
constexpr int kMaxSlotEventsPerCheck = 64;

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
    : config_(std::move(config)), log_(std::move(log)) {
    auto uri = p11::Uri::parse(config_.tokens);
    if (uri)
        filter_ = std::move(*uri);                  // validated when the config was loaded
    settings_.workers = config_.workers_per_token;  // 0: session_pool_capacity's default
    settings_.scan.allow_extractable_keys = config_.allow_extractable_keys;
    settings_.scan.object_filter = object_filter(filter_);
}

TokenManager::~TokenManager() {
    stop();
}

Status TokenManager::start() {
    for (const auto& spec : config_.modules) {
        auto module = p11::Module::load(spec);
        if (!module)
            return std::move(module).error();
        // attache-pkcs11.so forwards to this very agent: loading it would make the agent its
        // own client (a loop, and a PIN path around the agent). Refused by what it says it is,
        // whatever its file is called.
        if (auto info = module->info(); info && is_forwarding_module(info->manufacturerID)) {
            return Error("refusing to load " + module->path() +
                         ": it is attache-pkcs11.so, which forwards to attache-agent itself");
        }
        // A module that answers a non-blocking C_WaitForSlotEvent (with an event or
        // CKR_NO_EVENT) reports insertions and removals between polls.
        auto probe = module->wait_for_slot_event(/*dont_block=*/true);
        has_slot_events_.push_back(probe || probe.error().is(CKR_NO_EVENT));
        auto info = module->info();
        blocking_events_.push_back(
            has_slot_events_.back() && info &&
            p11::trim_padded(info->manufacturerID, sizeof info->manufacturerID) ==
                kBlockingEventsManufacturer);
        if (has_slot_events_.back())
            log_(module->path() + " reports slot events");
        modules_.push_back(std::move(*module));
    }
    poll();
    return ok();
}

void TokenManager::start_monitor() {
    for (size_t i = 0; i < modules_.size(); ++i) {
        if (blocking_events_[i])
            slot_events_.watch(i, modules_[i]);
    }
    monitor_ = std::thread([this] {
        auto next_poll = std::chrono::steady_clock::now() + full_poll_interval();
        for (;;) {
            // Asleep until something is due: a full poll, a check of modules that cannot block,
            // an idle or maximum-unlocked lock, or an event from a module's waiter.
            auto deadline = std::min(next_poll, next_time_lock());
            if (polls_for_events())
                deadline =
                    std::min(deadline, std::chrono::steady_clock::now() + kSlotEventCheckInterval);
            bool stopping = false;
            const std::vector<size_t> events = slot_events_.wait_until(deadline, stopping);
            if (stopping)
                break;
            for (size_t i : events)
                poll_module(modules_[i]);
            if (std::chrono::steady_clock::now() >= next_poll) {
                poll();
                next_poll = std::chrono::steady_clock::now() + full_poll_interval();
            } else {
                check_slot_events();
                apply_time_locks();
            }
        }
    });
}

bool TokenManager::polls_for_events() const {
    for (size_t i = 0; i < modules_.size(); ++i) {
        if (has_slot_events_[i] && !slot_events_.blocking(i))
            return true;
    }
    return false;
}

std::chrono::milliseconds TokenManager::full_poll_interval() const {
    for (size_t i = 0; i < modules_.size(); ++i) {
        if (!slot_events_.blocking(i))
            return config_.poll_interval;
    }
    return std::max(config_.poll_interval, kBlockingPollInterval);
}

std::chrono::steady_clock::time_point TokenManager::next_time_lock() const {
    using std::chrono::steady_clock;
    const auto idle = config_.idle_lock;
    const auto most = config_.max_unlocked;
    if (idle.count() == 0 && most.count() == 0)
        return steady_clock::time_point::max();
    // A token unlocked after this wait began is due no earlier than one period from now, so
    // waking at least once a period keeps every lock on time without a word from unlock.
    const auto period = idle.count() == 0 ? most : most.count() == 0 ? idle : std::min(idle, most);
    auto due = steady_clock::now() + period;
    for (const auto& t : tokens()) {
        if (!t->unlocked())
            continue;
        if (idle.count() > 0)
            due = std::min(due, t->last_used() + idle);
        if (most.count() > 0)
            due = std::min(due, t->unlocked_at() + most);
    }
    return due;
}

void TokenManager::stop() {
    slot_events_.stop();
    if (monitor_.joinable())
        monitor_.join();
}

void TokenManager::poll() {
    for (const auto& module : modules_)
        poll_module(module);
    apply_time_locks();
}

void TokenManager::check_slot_events() {
    for (size_t i = 0; i < modules_.size(); ++i) {
        if (!has_slot_events_[i] || slot_events_.blocking(i))
            continue;
        bool event = false;
        for (int n = 0; n < kMaxSlotEventsPerCheck; ++n) {
            auto slot = modules_[i].wait_for_slot_event(/*dont_block=*/true);
            if (!slot)
                break;  // CKR_NO_EVENT, or an error: the next full poll looks anyway
            event = true;
        }
        if (event)
            poll_module(modules_[i]);
    }
}

void TokenManager::poll_module(const p11::Module& module) {
    auto slots = module.slots(/*with_token_only=*/true);
    if (!slots) {
        log_("cannot list the slots of " + module.path() + ": " + slots.error().message());
        return;
    }
    std::set<CK_SLOT_ID> seen;
    for (CK_SLOT_ID slot : *slots) {
        // Through p11-kit's proxy, attache-pkcs11.so's slots would be the agent's own tokens
        // coming back (its .module file says disable-in: attache-agent; this is the backstop).
        if (auto slot_info = module.slot_info(slot);
            slot_info && slot_info->manufacturer == kForwardingManufacturer) {
            continue;
        }
        auto info = module.token_info(slot);
        if (!info) {
            // Only a CK_RV that says the card is gone removes its token (it went between the
            // two calls). Anything else says nothing about the card: SoftHSM2 out of file
            // descriptors answers CKR_GENERAL_ERROR. The token then stays as it is.
            const auto rv = info.error().rv();
            if (!rv || !means_token_gone(*rv))
                seen.insert(slot);
            continue;
        }
        // An uninitialised token has no PIN and no keys (SoftHSM2 always shows one).
        if (!info->initialized() || !filter_.matches_token(*info))
            continue;
        seen.insert(slot);

        std::shared_ptr<Token> existing;
        {
            std::lock_guard lock(mutex_);
            for (const auto& t : tokens_) {
                if (t->module().path() == module.path() && t->slot() == slot && t->present()) {
                    existing = t;
                }
            }
        }
        if (existing && existing->serial() == info->serial && existing->label() == info->label &&
            existing->check_login()) {
            existing->update_info(*info);
            continue;
        }
        if (existing && existing->removed())
            log_("token " + existing->display_name() + " was replaced by another card");
        auto token = std::make_shared<Token>(module, slot, *info, settings_);
        if (Status s = token->scan(); !s) {
            log_("cannot list the keys of token " + token->display_name() + ": " +
                 s.error().message());
        }
        std::lock_guard lock(mutex_);
        // A card coming back replaces its absent entry, and says why it is locked.
        const size_t returned = std::erase_if(tokens_, [&](const std::shared_ptr<Token>& t) {
            return !t->present() && t->serial() == token->serial() &&
                   t->module().path() == module.path();
        });
        if (returned > 0)
            token->set_lock_reason("card removed");
        log_("token " + token->display_name() + " is present, locked");
        tokens_.push_back(std::move(token));
    }

    std::vector<std::shared_ptr<Token>> gone;
    {
        std::lock_guard lock(mutex_);
        for (const auto& t : tokens_) {
            if (t->module().path() == module.path() && t->present() && !seen.count(t->slot())) {
                gone.push_back(t);
            }
        }
    }
    for (const auto& t : gone) {
        if (t->removed())
            log_("token " + t->display_name() + " was removed");
    }
}

void TokenManager::apply_time_locks() {
    const auto now = Token::Clock::now();
    for (const auto& t : tokens()) {
        if (!t->unlocked())
            continue;
        if (config_.idle_lock.count() > 0 && now - t->last_used() >= config_.idle_lock) {
            if (t->lock("idle"))
                log_("token " + t->display_name() + " locked: idle");
        } else if (config_.max_unlocked.count() > 0 &&
                   now - t->unlocked_at() >= config_.max_unlocked) {
            if (t->lock("maximum unlocked time")) {
                log_("token " + t->display_name() + " locked: maximum unlocked time");
            }
        }
    }
}

std::vector<std::shared_ptr<Token>> TokenManager::tokens() const {
    std::lock_guard lock(mutex_);
    return tokens_;
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
        if (!pulled.empty()) {
            return agent_error(
                ErrorCode::token_absent,
                "the card " + pulled.front().token->display_name() + " was removed: insert it");
        }
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
    for (const auto& m : modules_) {
        char resolved[PATH_MAX];
        out.push_back(realpath(m.path().c_str(), resolved) ? resolved : m.path());
    }
    return out;
}

int TokenManager::lock_all(const std::string& reason) {
    int n = 0;
    for (const auto& t : tokens()) {
        if (t->lock(reason))
            ++n;
    }
    return n;
}

}  // namespace attache::agent
