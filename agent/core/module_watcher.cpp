#include "agent/core/module_watcher.h"

#include <limits.h>
#include <stdlib.h>

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

// How often a module whose C_WaitForSlotEvent answers only without blocking is asked, between
// full polls, whether a card came or went.
constexpr std::chrono::milliseconds kSlotEventCheckInterval{100};
// With the module reporting events by a blocking wait, a full poll is only the backstop.
constexpr std::chrono::milliseconds kBlockingPollInterval{60'000};
// Events drained per check (a burst of insertions needs one poll, not many).
constexpr int kMaxSlotEventsPerCheck = 64;

std::string canonical(const std::string& path) {
    char resolved[PATH_MAX];
    return realpath(path.c_str(), resolved) ? resolved : path;
}

}  // namespace

ModuleWatcher::ModuleWatcher(size_t index, std::string spec, const ModuleLaunch& launch,
                             TokenList& tokens, const WatchSettings& settings, EventLog log)
    : index_(index),
      spec_(std::move(spec)),
      launch_(launch),
      tokens_(tokens),
      settings_(settings),
      log_(std::move(log)),
      events_(std::make_shared<SlotEvents>()) {}

ModuleWatcher::~ModuleWatcher() {
    stop();
}

Status ModuleWatcher::load() {
    auto module = launch_(spec_);
    if (!module)
        return std::move(module).error();
    path_ = canonical(module->path());
    // attache-pkcs11.so forwards to this very agent: loading it would make the agent its own
    // client (a loop, and a PIN path around the agent). Refused by what it says it is,
    // whatever its file is called.
    if (auto info = module->info(); info && is_forwarding_module(info->manufacturerID)) {
        return Error("refusing to load " + module->path() +
                     ": it is attache-pkcs11.so, which forwards to attache-agent itself");
    }
    install(std::move(*module));
    if (has_slot_events_)
        log_(module_->path() + " reports slot events");
    if (module_->helper_pid() != 0)
        log_(module_->path() + " runs in helper process " + std::to_string(module_->helper_pid()));
    return ok();
}

void ModuleWatcher::install(p11::Module module) {
    backoff_.started(RestartBackoff::Clock::now());
    // A module that answers a non-blocking C_WaitForSlotEvent (with an event or CKR_NO_EVENT)
    // reports insertions and removals between polls.
    auto probe = module.wait_for_slot_event(/*dont_block=*/true);
    has_slot_events_ = probe || probe.error().is(CKR_NO_EVENT);
    auto info = module.info();
    blocking_events_ = has_slot_events_ && info &&
                       p11::trim_padded(info->manufacturerID, sizeof info->manufacturerID) ==
                           kBlockingEventsManufacturer;
    auto events = std::make_shared<SlotEvents>();
    // From a helper's thread, once: the watcher looks at once (never a module call here).
    module.on_stop([events](const std::string&) { events->notify(); });
    {
        std::lock_guard lock(mutex_);
        if (events_)
            events_->stop();  // the waiter of the module before ends
        events_ = events;
        if (stopping_)
            events_->stop();
    }
    module_.emplace(std::move(module));
}

void ModuleWatcher::start_waiter() {
    if (blocking_events_)
        events_->watch(*module_);
}

void ModuleWatcher::start() {
    thread_ = std::thread([this] { run(); });
}

void ModuleWatcher::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        if (events_)
            events_->stop();
    }
    stop_wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

std::chrono::milliseconds ModuleWatcher::full_poll_interval() const {
    if (!events_->blocking())
        return settings_.poll_interval;
    return std::max(settings_.poll_interval, kBlockingPollInterval);
}

void ModuleWatcher::run() {
    start_waiter();
    auto next_poll = std::chrono::steady_clock::now() + full_poll_interval();
    for (;;) {
        if (!module_->alive()) {
            if (!handle_stop())
                return;
            next_poll = std::chrono::steady_clock::now() + full_poll_interval();
            continue;
        }
        // Asleep until a full poll or a check of a module that cannot block is due, or an
        // event from the waiter (or the module's stop) comes.
        auto deadline = next_poll;
        if (has_slot_events_ && !events_->blocking())
            deadline =
                std::min(deadline, std::chrono::steady_clock::now() + kSlotEventCheckInterval);
        const SlotEvents::Wake wake = events_->wait_until(deadline);
        if (wake == SlotEvents::Wake::stopping)
            return;
        if (!module_->alive())
            continue;
        if (wake == SlotEvents::Wake::event || std::chrono::steady_clock::now() >= next_poll) {
            poll_module();
            next_poll = std::chrono::steady_clock::now() + full_poll_interval();
        } else {
            check_slot_events();
        }
    }
}

void ModuleWatcher::poll() {
    poll_module();
}

void ModuleWatcher::check_slot_events() {
    if (!has_slot_events_ || events_->blocking())
        return;
    bool event = false;
    for (int n = 0; n < kMaxSlotEventsPerCheck; ++n) {
        auto slot = module_->wait_for_slot_event(/*dont_block=*/true);
        if (!slot)
            break;  // CKR_NO_EVENT, or an error: the next full poll looks anyway
        event = true;
    }
    if (event)
        poll_module();
}

void ModuleWatcher::poll_module() {
    const p11::Module& module = *module_;
    auto slots = module.slots(/*with_token_only=*/true);
    if (!slots) {
        if (module.alive())
            log_("cannot list the slots of " + module.path() + ": " + slots.error().message());
        return;  // a module that stopped: the thread sees it next
    }
    std::set<CK_SLOT_ID> seen;
    for (CK_SLOT_ID slot : *slots) {
        // Through p11-kit's proxy, attache-pkcs11.so's slots would be the agent's own tokens
        // coming back (its .module file says disable-in: attache-agent; this is the backstop).
        auto slot_info = module.slot_info(slot);
        if (slot_info && slot_info->manufacturer == kForwardingManufacturer)
            continue;
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
        if (!info->initialized() || !settings_.filter.matches_token(*info))
            continue;
        seen.insert(slot);

        std::shared_ptr<Token> existing = tokens_.present(index_, slot);
        if (existing && existing->serial() == info->serial && existing->label() == info->label &&
            existing->check_login()) {
            existing->update_info(*info);
            continue;
        }
        if (existing && existing->removed())
            log_("token " + existing->display_name() + " was replaced by another card");
        auto token = std::make_shared<Token>(module, slot, *info, token_settings(slot_info, *info));
        if (Status s = token->scan(); !s) {
            log_("cannot list the keys of token " + token->display_name() + ": " +
                 s.error().message());
        }
        if (!module.alive())
            return;  // stopped while the keys were read: found again after the restart
        // A card coming back replaces its absent entry, and says why it is locked.
        const std::string went = tokens_.add(index_, token);
        if (went.starts_with("the card's module stopped"))
            token->set_lock_reason("its module was started again (" + went + ")");
        else if (!went.empty())
            token->set_lock_reason("card removed");
        log_("token " + token->display_name() + " is present, locked");
    }
    if (!module.alive())
        return;  // the slots it did not list were not removed: the module stopped
    for (const auto& t : tokens_.present_of(index_)) {
        if (!seen.count(t->slot()) && t->removed())
            log_("token " + t->display_name() + " was removed");
    }
}

TokenSettings ModuleWatcher::token_settings(const Result<p11::SlotInfo>& slot,
                                            const p11::TokenInfo& token) const {
    TokenSettings s = settings_.token;
    if (!launch_.in_helper() || !slot)
        return s;
    s.helpers.further = further_helpers_for(settings_.helpers_per_token,
                                            std::thread::hardware_concurrency(), *slot, token);
    if (s.helpers.further != 0) {
        // A copy: the token may outlive this watcher (a request still holding it at shutdown).
        s.helpers.start = [launch = launch_, spec = spec_] { return launch(spec); };
    }
    return s;
}

bool ModuleWatcher::handle_stop() {
    std::string reason = module_->stop_reason();
    if (reason.empty())
        reason = "it stopped";
    for (const auto& t : tokens_.present_of(index_)) {
        if (t->module_stopped(reason))
            log_("token " + t->display_name() + " is absent: the card's module stopped");
    }
    std::chrono::seconds delay = backoff_.stopped(RestartBackoff::Clock::now());
    log_("module " + path_ + " stopped: " + reason + "; starting it again in " +
         std::to_string(delay.count()) + " s");
    for (;;) {
        if (!sleep_for(delay))
            return false;
        auto module = launch_(spec_);
        if (module) {
            install(std::move(*module));
            start_waiter();
            log_("module " + path_ + " started again" +
                 (module_->helper_pid() != 0
                      ? " (helper process " + std::to_string(module_->helper_pid()) + ")"
                      : std::string()) +
                 "; its cards are found again, locked");
            poll_module();
            return true;
        }
        delay = backoff_.start_failed();
        log_("cannot start module " + path_ + " again: " + module.error().message() +
             "; trying again in " + std::to_string(delay.count()) + " s");
    }
}

bool ModuleWatcher::sleep_for(std::chrono::seconds delay) {
    std::unique_lock lock(mutex_);
    return !stop_wake_.wait_for(lock, delay, [this] { return stopping_; });
}

}  // namespace attache::agent
