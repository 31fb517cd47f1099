#include "agent/core/token.h"

#include <algorithm>
#include <set>
#include <thread>

#include "agent/core/agent_error.h"
#include "agent/core/authority_scan.h"
#include "agent/core/decrypt_support.h"
#include "agent/core/log.h"
#include "agent/core/operation_plan.h"
#include "pkcs11/operations.h"
#include "pkcs11/uri.h"

namespace attache::agent {
namespace {

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               Token::Clock::now().time_since_epoch())
        .count();
}

const char* operation_name(uint32_t op) {
    switch (op) {
        case protocol::kOpSign:
            return "signing";
        case protocol::kOpDecrypt:
            return "decryption";
        case protocol::kOpDerive:
            return "key agreement";
        default:
            return "this operation";
    }
}

}  // namespace

Token::Token(p11::Module module, CK_SLOT_ID slot, p11::TokenInfo info, TokenSettings settings)
    : module_(std::move(module)),
      slot_(slot),
      serial_(info.serial),
      label_(info.label),
      settings_(std::move(settings)),
      pool_(module_, slot,
            session_pool_capacity(settings_.workers, std::thread::hardware_concurrency(),
                                  info.raw.ulMaxSessionCount)),
      helpers_(settings_.helpers, pool_, [this](const std::string& why) { helper_stopped(why); }),
      info_(std::move(info)),
      since_(std::chrono::system_clock::now()) {
    last_used_ns_ = now_ns();
}

Token::~Token() {
    prompt_cancel_.cancel();
    pool_.close();
    helpers_.end();
    std::lock_guard control(control_mutex_);
    if (control_ && unlocked_)
        (void)control_->logout();
    control_.reset();
}

std::string Token::uri() const {
    return p11::Uri::for_token(info());
}

std::string Token::display_name() const {
    return "'" + label_ + "' (serial " + serial_ + ")";
}

p11::TokenInfo Token::info() const {
    std::lock_guard lock(mutex_);
    return info_;
}

void Token::update_info(const p11::TokenInfo& info) {
    std::lock_guard lock(mutex_);
    info_ = info;
}

TokenState Token::status() const {
    std::lock_guard lock(mutex_);
    TokenState s;
    s.uri = p11::Uri::for_token(info_);
    s.label = info_.label;
    s.serial = info_.serial;
    s.manufacturer = info_.manufacturer;
    s.model = info_.model;
    s.present = present_;
    s.unlocked = unlocked_;
    s.flags = info_.flags;
    s.since = static_cast<uint64_t>(std::chrono::system_clock::to_time_t(since_));
    s.lock_reason = unlocked_ ? "" : lock_reason_;
    s.key_count = static_cast<uint32_t>(keys_.size());
    return s;
}

std::vector<AuthorityRecord> Token::authorities() const {
    std::lock_guard lock(mutex_);
    return authorities_;
}

std::vector<std::shared_ptr<const KeyRecord>> Token::keys() const {
    std::lock_guard lock(mutex_);
    return keys_;
}

Token::Clock::time_point Token::last_used() const {
    return Clock::time_point(std::chrono::nanoseconds(last_used_ns_.load()));
}

Token::Clock::time_point Token::unlocked_at() const {
    std::lock_guard lock(mutex_);
    return unlocked_at_;
}

Result<p11::TokenInfo> Token::fetch_info() {
    ATTACHE_TRY(p11::TokenInfo info, module_.token_info(slot_));
    update_info(info);
    return info;
}

Status Token::scan() {
    std::lock_guard control(control_mutex_);
    return rescan_locked(unlocked_);
}

Status Token::rescan_locked(bool logged_in) {
    if (!control_) {
        ATTACHE_TRY(p11::Session s, module_.open_session(slot_));
        control_.emplace(std::move(s));
    }
    ATTACHE_TRY(auto records, scan_keys(*control_, info(), logged_in, settings_.scan));
    std::set<Bytes> key_ids;
    for (auto& r : records) {
        key_ids.insert(r.cka_id);
        if (r.verified && (r.operations & protocol::kOpDecrypt))
            r.decrypt_support = decrypt_support_of(r);
    }
    ATTACHE_TRY(auto authorities, scan_authorities(*control_, key_ids));
    std::vector<std::shared_ptr<const KeyRecord>> keys;
    keys.reserve(records.size());
    for (auto& r : records)
        keys.push_back(std::make_shared<const KeyRecord>(std::move(r)));
    std::lock_guard lock(mutex_);
    keys_ = std::move(keys);
    authorities_ = std::move(authorities);
    scanned_ns_ = now_ns();
    return ok();
}

uint32_t Token::decrypt_support_of(const KeyRecord& key) {
    auto [it, added] = decrypt_support_.try_emplace(key.id, 0);
    if (added)
        it->second = probe_decrypt_support(module_, slot_, key.private_handle);
    return it->second;
}

bool Token::rescan_if_older_than(std::chrono::milliseconds min_interval) {
    if (!present_ || unusable_)
        return false;
    if (now_ns() - scanned_ns_.load() < std::chrono::nanoseconds(min_interval).count())
        return false;
    std::lock_guard control(control_mutex_);
    if (Status s = rescan_locked(unlocked_); !s) {
        log_warning("cannot read the keys of token " + display_name() +
                    " again: " + s.error().message());
    }
    return true;
}

void Token::set_lock_reason(const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (!unlocked_)
        lock_reason_ = reason;
}

Error Token::unusable_error() const {
    return agent_error(ErrorCode::device_error,
                       "the card " + display_name() +
                           " could not be locked and is still logged in; remove the card");
}

Status Token::ensure_usable() const {
    if (!present_)
        return absent_error();
    if (unusable_)
        return unusable_error();
    if (!unlocked_) {
        return agent_error(ErrorCode::token_locked,
                           "token " + display_name() + " is locked; run `attache unlock`");
    }
    return ok();
}

Result<UnlockResult> Token::unlock(const Secret* pin, bool confirm_final_try) {
    const uint64_t locks_before = lock_requests_.load();
    for (;;) {
        ATTACHE_CHECK(wait_for_backoff(locks_before));
        std::lock_guard control(control_mutex_);
        // Another request's wrong PIN may have landed while this one waited for the mutex.
        if (backoff_.remaining().count() > 0)
            continue;
        return unlock_locked(pin, confirm_final_try, locks_before);
    }
}

Status Token::wait_for_backoff(uint64_t locks_before) {
    if (unlocked_ || backoff_.remaining().count() == 0)
        return ok();
    log_info("token " + display_name() + ": waiting " +
             std::to_string(backoff_.remaining().count()) + " ms before the next PIN attempt (" +
             std::to_string(backoff_.wrong_in_a_row()) + " wrong in a row)");
    const bool waited =
        backoff_.wait([&] { return lock_requests_.load() != locks_before || !present_; });
    if (!waited) {
        return agent_error(ErrorCode::token_locked, "token " + display_name() +
                                                        " was locked or removed while a PIN "
                                                        "attempt waited");
    }
    return ok();
}

Result<UnlockResult> Token::unlock_locked(const Secret* pin, bool confirm_final_try,
                                          uint64_t locks_before) {
    UnlockResult reply;
    reply.token_label = label_;
    if (!present_)
        return absent_error();
    if (unusable_)
        return unusable_error();
    if (unlocked_) {
        reply.already_unlocked = true;
        return reply;
    }
    ATTACHE_CHECK(ensure_reachable_locked());
    // Fresh flags: the retry counter may have moved since the last poll.
    ATTACHE_TRY(p11::TokenInfo info, fetch_info());
    if (info.serial != serial_ || info.label != label_) {
        return agent_error(ErrorCode::token_absent,
                           "the card in the slot of token " + display_name() +
                               " is another card now; no PIN was sent to it");
    }
    if (info.user_pin_locked()) {
        return agent_error(ErrorCode::pin_locked,
                           "the PIN of token " + display_name() +
                               " is blocked; an admin must unblock it with `attache pin unblock`");
    }
    if (info.user_pin_final_try() && !confirm_final_try) {
        return agent_error(ErrorCode::final_try,
                           "token " + display_name() +
                               " has one PIN try left; a wrong PIN blocks the card. Unlock again "
                               "confirming the last attempt (attache unlock --confirm-final-try)");
    }
    if (pin == nullptr && !info.protected_authentication_path()) {
        return agent_error(ErrorCode::bad_request,
                           "token " + display_name() + " needs a PIN and none was given");
    }
    if (!control_) {
        ATTACHE_TRY(p11::Session s, module_.open_session(slot_));
        control_.emplace(std::move(s));
    }
    // A lock asked for while the PIN was asked, or while the login runs (screen lock during
    // PIN-pad entry), must win.
    if (lock_requests_.load() != locks_before) {
        return agent_error(ErrorCode::token_locked,
                           "token " + display_name() + " was locked while its PIN was asked");
    }
    ATTACHE_CHECK(end_stale_login_locked());
    Status login = control_->login(CKU_USER, info.protected_authentication_path() ? nullptr : pin);
    if (!login && login.error().is(CKR_USER_ALREADY_LOGGED_IN)) {
        // Logged in although no session of ours was a moment ago: the token checked no PIN.
        end_login_locked();
        return agent_error(ErrorCode::device_error,
                           "the card " + display_name() +
                               " reported a login the agent did not make; it was ended. Unlock "
                               "again" +
                               (unusable_ ? std::string(" after removing the card") : ""));
    }
    if (!login) {
        (void)fetch_info();  // report the new retry-counter flags
        Error e = std::move(login).error();
        if (e.rv() && means_token_gone(*e.rv()))
            control_.reset();
        if (e.is(CKR_PIN_INCORRECT)) {
            last_pin_wrong_ = true;
            backoff_.record_wrong_pin();
            e = std::move(e).context(
                "the next PIN attempt is accepted after " +
                std::to_string(PinBackoff::delay_after(backoff_.wrong_in_a_row()).count() / 1000) +
                " s");
        }
        return std::move(e).context("unlocking token " + display_name());
    }
    (void)fetch_info();
    // Now the private keys are visible: verify them against the policy before serving any.
    if (Status s = rescan_locked(true); !s) {
        end_login_locked();
        return std::move(s).error().context("reading the keys of token " + display_name());
    }
    if (pin != nullptr && helpers_.enabled() && lock_requests_.load() == locks_before) {
        const size_t serving = helpers_.log_in(info, *pin, display_name(), [&] {
            return lock_requests_.load() == locks_before && present_.load();
        });
        log_info("token " + display_name() + ": " + std::to_string(serving) +
                 " helper processes serve its operations");
    }
    {
        std::lock_guard lock(mutex_);
        if (lock_requests_.load() == locks_before) {
            unlocked_ = true;
            since_ = std::chrono::system_clock::now();
            unlocked_at_ = Clock::now();
            lock_reason_.clear();
        }
    }
    if (!unlocked_) {
        end_login_locked();
        return agent_error(ErrorCode::token_locked,
                           "token " + display_name() + " was locked while it was being unlocked");
    }
    last_pin_wrong_ = false;
    backoff_.record_right_pin();
    last_used_ns_ = now_ns();
    return reply;
}

Result<UnlockResult> Token::unlock_interactive(UserPrompt& prompter,
                                               const PinPromptRequest& requester) {
    std::unique_lock gate(prompt_mutex_);
    if (prompting_) {
        // Someone's request already opened the prompt: its outcome is ours too.
        const uint64_t seen = prompts_finished_;
        prompt_done_.wait(gate, [&] { return prompts_finished_ != seen; });
        if (prompt_error_)
            return *prompt_error_;
        UnlockResult reply;
        reply.token_label = label_;
        reply.already_unlocked = true;
        return reply;
    }
    if (unlocked_) {
        UnlockResult reply;
        reply.token_label = label_;
        reply.already_unlocked = true;
        return reply;
    }
    prompting_ = true;
    gate.unlock();
    Result<UnlockResult> result = prompt_and_unlock(prompter, requester);
    gate.lock();
    prompting_ = false;
    ++prompts_finished_;
    prompt_error_ = result ? std::nullopt : std::optional<Error>(result.error());
    prompt_done_.notify_all();
    return result;
}

Result<UnlockResult> Token::prompt_and_unlock(UserPrompt& prompter,
                                              const PinPromptRequest& requester) {
    // A lock from now on (screen lock, `attache lock`, removal) voids whatever PIN is typed.
    const uint64_t locks_before = lock_requests_.load();
    if (!present_)
        return absent_error();
    ATTACHE_TRY(p11::TokenInfo info, fetch_info());
    if (info.user_pin_locked()) {
        return agent_error(ErrorCode::pin_locked,
                           "the PIN of token " + display_name() +
                               " is blocked; an admin must unblock it with `attache pin unblock`");
    }
    // After wrong PINs the dialog opens once the back-off allows the next attempt.
    ATTACHE_CHECK(wait_for_backoff(locks_before));
    if (info.protected_authentication_path()) {
        // The PIN goes on the reader's PIN pad; on the final try the broker asks the user
        // first.
        std::lock_guard control(control_mutex_);
        return unlock_locked(nullptr, false, locks_before);
    }
    ATTACHE_TRY(info, fetch_info());  // the counter may have moved during the wait
    PinPromptRequest request = requester;
    request.token_label = label_;
    request.token_serial = serial_;
    request.flags = info.flags;
    request.last_attempt_wrong = last_pin_wrong_;
    prompt_cancel_.arm();
    if (lock_requests_.load() != locks_before)
        prompt_cancel_.cancel();
    Result<PinPromptAnswer> answer = prompter.ask_pin(request, prompt_cancel_);
    if (!present_) {
        if (module_stopped_)
            return absent_error();
        return agent_error(ErrorCode::token_absent,
                           "token " + display_name() + " was removed while its PIN was asked");
    }
    if (!answer)
        return std::move(answer).error().context("unlocking token " + display_name());
    if (info.user_pin_final_try() && !answer->final_try_confirmed) {
        return agent_error(ErrorCode::final_try,
                           "token " + display_name() + " has one PIN try left, not confirmed");
    }
    for (;;) {
        ATTACHE_CHECK(wait_for_backoff(locks_before));
        std::lock_guard control(control_mutex_);
        if (backoff_.remaining().count() > 0)
            continue;
        return unlock_locked(&answer->pin, answer->final_try_confirmed, locks_before);
    }
}

void Token::set_locked_state(const std::string& reason) {
    std::lock_guard lock(mutex_);
    unlocked_ = false;
    since_ = std::chrono::system_clock::now();
    lock_reason_ = reason;
}

bool Token::lock(const std::string& reason) {
    if (!lock_now(reason))
        return false;
    end_login();
    return true;
}

bool Token::lock_now(const std::string& reason) {
    ++lock_requests_;
    prompt_cancel_.cancel();  // a PIN dialog open for this token closes
    backoff_.wake();          // and a PIN attempt waiting out the back-off gives up
    // Refuse new operations first; the logout follows in end_login().
    const bool was_unlocked = unlocked_.exchange(false);
    if (!was_unlocked)
        return false;
    set_locked_state(reason);
    return true;
}

void Token::end_login() {
    std::lock_guard control(control_mutex_);
    // Unlocked again while this waited for the control session: that unlock ended the old
    // login itself (end_stale_login_locked) and made the one there is now.
    if (unlocked_)
        return;
    end_login_locked();
}

void Token::end_login_locked() {
    helpers_.end();
    if (!control_)
        return;  // no login was made through a session of this token's
    Status logout = control_->logout();
    if (logout)
        return;
    if (logout.error().rv() && means_token_gone(*logout.error().rv())) {
        control_.reset();  // the card went away, and its login with it
        return;
    }
    log_warning("token " + display_name() + ": " + logout.error().message() +
                "; closing all of its sessions to end the login");
    // A login ends with the token's last session: ours first, then whatever the module
    // still counts (sessions in use by an operation are forgotten when it returns).
    control_.reset();
    if (Status closed = module_.close_all_sessions(slot_); !closed)
        log_warning("token " + display_name() + ": " + closed.error().message());
    pool_.abandon_all();
    auto probe = module_.open_session(slot_);
    Result<bool> logged_in = probe ? probe->user_logged_in() : Result<bool>(probe.error());
    if (logged_in && !*logged_in) {
        control_.emplace(std::move(*probe));
        return;
    }
    unusable_ = true;
    unlocked_ = false;
    set_locked_state("could not lock: remove the card");
    log_error("token " + display_name() + " is still logged in after every session was closed (" +
              (logged_in ? std::string("the session state says so") : logged_in.error().message()) +
              "); nothing is served from it until the card is removed");
}

Status Token::ensure_reachable_locked() {
    // The module's own view of its slots, asked now: for OpenSC this reads pcscd's readers
    // again, which also reconnects it to a pcscd that was restarted since (its slot events can
    // miss a restart, and until its readers are read again every C_Login fails with
    // CKR_GENERAL_ERROR, the card never reached).
    auto slots = module_.slots(/*with_token_only=*/true);
    if (!slots) {
        return std::move(slots).error().context("checking that the card " + display_name() +
                                                " is reachable before sending it the PIN");
    }
    if (std::find(slots->begin(), slots->end(), slot_) == slots->end()) {
        return agent_error(ErrorCode::token_absent,
                           "the card " + display_name() +
                               " is not reachable (removed, or its reader went away); no PIN "
                               "was sent to it");
    }
    return ok();
}

Status Token::end_stale_login_locked() {
    ATTACHE_TRY(bool logged_in, control_->user_logged_in());
    if (!logged_in)
        return ok();
    log_warning("token " + display_name() +
                " is logged in although the agent had locked it; ending that login first");
    end_login_locked();
    if (unusable_)
        return unusable_error();
    return ok();
}

bool Token::check_login() {
    std::unique_lock control(control_mutex_, std::try_to_lock);
    if (!control.owns_lock())
        return present_;
    if (login_to_end_.exchange(false) && !unlocked_)
        end_login_locked();
    if (!control_ || !present_ || unusable_)
        return present_;
    auto info = control_->info();
    if (!info) {
        if (info.error().rv() && means_token_gone(*info.error().rv())) {
            control.unlock();
            if (removed())
                log_warning("token " + display_name() + " was removed");
            return false;
        }
        return true;
    }
    const bool logged_in =
        info->state == CKS_RO_USER_FUNCTIONS || info->state == CKS_RW_USER_FUNCTIONS;
    if (unlocked_ && !logged_in && unlocked_.exchange(false)) {
        set_locked_state("the token logged out");
    }
    return true;
}

bool Token::removed() {
    return go_absent("card removed", /*sessions_died=*/false);
}

bool Token::module_stopped(const std::string& reason) {
    return go_absent("the card's module stopped: " + reason, /*sessions_died=*/true);
}

bool Token::go_absent(const std::string& why, bool sessions_died) {
    const bool was_present = present_.exchange(false);
    ++lock_requests_;
    prompt_cancel_.cancel();
    backoff_.wake();
    if (was_present) {
        module_stopped_ = sessions_died;
        set_locked_state(why);
    } else {
        unlocked_ = false;
    }
    if (sessions_died)
        pool_.abandon_all();
    pool_.close();
    helpers_.end();
    // Not waiting for the control session when the module is gone: a call on it fails at once
    // and then finds the token absent; a later unlock never reaches this token object.
    std::unique_lock control(control_mutex_, std::defer_lock);
    if (sessions_died ? control.try_lock() : (control.lock(), true)) {
        if (sessions_died && control_)
            control_->abandon();
        control_.reset();
    }
    return was_present;
}

Error Token::absent_error() const {
    std::lock_guard lock(mutex_);
    if (module_stopped_) {
        return agent_error(ErrorCode::token_absent,
                           "the card " + display_name() + " is unavailable: " + lock_reason_ +
                               "; the agent restarts the module, then unlock the card again");
    }
    return agent_error(ErrorCode::token_absent,
                       "the card " + display_name() + " was removed: insert it");
}

void Token::helper_stopped(const std::string& reason) {
    if (!lock_now("a helper process of the card's module stopped (" + reason +
                  "); unlock the card again"))
        return;
    login_to_end_ = true;
    log_warning("token " + display_name() + " locked: a helper process of its module stopped (" +
                reason + ")");
}

Error Token::stopped_during_operation() {
    const std::string reason = module_.stop_reason();
    if (module_stopped(reason.empty() ? std::string("it stopped") : reason))
        log_warning("token " + display_name() +
                    ": the card's module stopped during an operation (" + reason + ")");
    return absent_error();
}

template <typename Fn>
Result<Bytes> Token::run(const KeyRecord& key, uint32_t operation, PoolClient client, Fn&& fn,
                         bool client_pin) {
    ATTACHE_CHECK(ensure_usable());
    if (!key.served) {
        return agent_error(ErrorCode::refused_by_policy,
                           "key " + key.id + " is not served: " + key.refusal);
    }
    if ((key.operations & operation) == 0) {
        return agent_error(ErrorCode::refused_by_policy,
                           std::string("key ") + key.id + " is not allowed for " +
                               operation_name(operation) + " (by its usage attributes or its " +
                               "certificate's key usage)");
    }
    if (key.private_handle == CK_INVALID_HANDLE) {
        return agent_error(ErrorCode::unknown_key,
                           "token " + display_name() + " shows no private key for key " + key.id);
    }
    ATTACHE_TRY(auto lease, pool_.acquire(client));
    ATTACHE_TRY(CK_OBJECT_HANDLE handle, helpers_.key_handle(lease, key));
    Result<Bytes> r = fn(*lease, handle);
    last_used_ns_ = now_ns();
    if (!r && !module_.alive()) {
        lease.discard();
        return stopped_during_operation();
    }
    if (!r && !lease.module().alive()) {
        // A further helper of the pool: the token's own module still holds its login.
        const std::string reason = lease.module().stop_reason();
        lease.discard();
        helper_stopped(reason);
        return agent_error(ErrorCode::device_error,
                           std::string("a helper process of the card's module stopped during "
                                       "this ") +
                               operation_name(operation) + " (" + reason + "); the card " +
                               display_name() + " was locked: unlock it again");
    }
    // After a failed context-specific login the operation may still be active in the session
    // (v2.40 modules cannot end it early): the session is not reused.
    if (!r && key.always_authenticate)
        lease.discard();
    if (!r && r.error().rv()) {
        const CK_RV rv = *r.error().rv();
        if (means_token_gone(rv)) {
            // The card went away (perhaps to come back before the next poll): this token is
            // finished; the monitor finds the card again as a new, locked token.
            lease.discard();
            if (removed())
                log_warning("token " + display_name() + " was removed (during an operation)");
            log_info(r.error().message());
            return absent_error();
        } else if (rv == CKR_PIN_INCORRECT && key.always_authenticate && client_pin) {
            // An application's wrong PIN for one use fails that use only: it must not log
            // every other application out. Whether the token kept its login is asked of it.
            check_login();
        } else if (rv == CKR_PIN_INCORRECT && key.always_authenticate) {
            // A wrong PIN typed in the agent's dialog: a PIV card resets its PIN status on any
            // failed VERIFY (SP 800-73-4), so the token's login is gone whatever the module
            // says. Locked, the holder unlocks again rather than meet "device error" on the
            // next operation.
            if (lock("a wrong PIN for one use of a key"))
                log_warning("token " + display_name() + " locked: a wrong PIN for key '" +
                            key.label + "'");
        } else if (rv == CKR_USER_NOT_LOGGED_IN && !key.always_authenticate &&
                   unlocked_.exchange(false)) {
            // (A PIN-per-use key says so when its own login is missing: not a logout.)
            set_locked_state("the token logged out");
        }
    }
    return r;
}

Result<Bytes> Token::sign(const KeyRecord& key, const SignOperation& request,
                          const OperationPrompt& prompt, PoolClient client) {
    ATTACHE_TRY(SignPlan plan, plan_sign(key, request));
    const p11::TokenInfo token = info();
    return run(
        key, protocol::kOpSign, client,
        [&](p11::Session& s, CK_OBJECT_HANDLE handle) -> Result<Bytes> {
            ATTACHE_TRY(Bytes sig, p11::sign(s, handle, std::move(plan.mechanism), plan.input,
                                             key.uri, plan.output_size,
                                             context_login(s, key, token, prompt, "a signature")));
            if (plan.ecdsa_to_der)
                return p11::ecdsa_raw_to_der(sig);
            return sig;
        },
        prompt.pin != nullptr);
}

Result<Bytes> Token::decrypt(const KeyRecord& key, const DecryptOperation& request,
                             const OperationPrompt& prompt, PoolClient client) {
    ATTACHE_TRY(DecryptPlan plan, plan_decrypt(key, request));
    const p11::TokenInfo token = info();
    return run(
        key, protocol::kOpDecrypt, client,
        [&](p11::Session& s, CK_OBJECT_HANDLE handle) {
            return p11::decrypt(s, handle, std::move(plan.mechanism), request.data, key.uri,
                                plan.output_size,
                                context_login(s, key, token, prompt, "a decryption"));
        },
        prompt.pin != nullptr);
}

Result<Bytes> Token::derive(const KeyRecord& key, const DeriveOperation& request,
                            PoolClient client) {
    ATTACHE_CHECK(check_peer_point(key, request.peer_point));
    return run(key, protocol::kOpDerive, client, [&](p11::Session& s, CK_OBJECT_HANDLE handle) {
        return p11::derive_ecdh(s, handle, request.peer_point, key.field_bytes(), key.uri);
    });
}

Result<Bytes> Token::sign_without_login(const Bytes& cka_id, std::span<const uint8_t> digest,
                                        size_t signature_size) {
    if (!present_)
        return absent_error();
    if (unusable_)
        return unusable_error();
    ATTACHE_TRY(auto lease, pool_.acquire());
    p11::AttributeTemplate find;
    find.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add_bytes(CKA_ID, cka_id);
    ATTACHE_TRY(auto handles, lease->find(std::move(find)));
    if (handles.size() != 1)
        return Error("the token shows " + std::to_string(handles.size()) +
                     " private keys with CKA_ID " + hex(cka_id) + " before login, not one");
    return p11::sign(*lease, handles.front(), p11::Mechanism(CKM_ECDSA), digest,
                     "the card-authentication key", signature_size);
}

Result<Bytes> Token::random(size_t size) {
    if (!present_)
        return absent_error();
    ATTACHE_TRY(auto lease, pool_.acquire());
    return lease->random(size);
}

}  // namespace attache::agent
