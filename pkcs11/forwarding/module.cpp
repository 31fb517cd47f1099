// Module: construction, the agent's status and key list, slots, tokens and mechanisms.

#include "pkcs11/forwarding/module.h"

#include <openssl/sha.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>

#include "pkcs11/forwarding/log.h"

namespace attache::forwarding {
namespace {

std::atomic<CK_ULONG> g_next_handle{0};

bool same_key(const protocol::KeyEntry& a, const protocol::KeyEntry& b) {
    return a.id == b.id && a.label == b.label && a.cka_id == b.cka_id && a.type == b.type &&
           a.bits == b.bits && a.operations == b.operations && a.served == b.served &&
           a.spki == b.spki && a.certificate == b.certificate &&
           a.always_authenticate == b.always_authenticate &&
           a.decrypt_support == b.decrypt_support && a.certificate_label == b.certificate_label;
}

// An authority certificate's object name: never a key id (those are 16 hex digits).
std::string authority_object_id(const Bytes& der) {
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(der.data(), der.size(), digest);
    return "authority:" + hex(digest, 8);
}

}  // namespace

CK_ULONG next_handle() {
    return ++g_next_handle;
}

Module::Module(Options options, protocol::AgentEndpoint endpoint, SlotRegistry& registry)
    : options_(options), pool_(std::move(endpoint)), slots_(registry) {}

Module::~Module() = default;

void Module::start() {
    if (!refresh_status()) {
        notice(last_error_.empty() ? "attache-agent is not running" : last_error_);
        return;
    }
    std::lock_guard lock(mutex_);
    // Tokens present at C_Initialize are not slot events.
    while (slots_.take_event()) {
    }
}

void Module::shut_down() {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
    events_.notify_all();
}

template <typename T>
std::optional<T> Module::request(const protocol::Request& r, Call call, uint64_t epoch, Outcome& o,
                                 bool may_retry) {
    auto reply = pool_.call(r, epoch, may_retry);
    if (!reply) {
        o = outcome_of(reply.error());
        return std::nullopt;
    }
    if (auto* t = std::get_if<T>(&*reply))
        return std::move(*t);
    if (auto* e = std::get_if<protocol::ErrorReply>(&*reply)) {
        o = outcome_of(*e, call);
        return std::nullopt;
    }
    o = unexpected_reply(*reply);
    return std::nullopt;
}

// Instances used by the other files of Module.
template std::optional<protocol::UnlockReply> Module::request(const protocol::Request&, Call,
                                                              uint64_t, Outcome&, bool);
template std::optional<protocol::SignReply> Module::request(const protocol::Request&, Call,
                                                            uint64_t, Outcome&, bool);
template std::optional<protocol::DecryptReply> Module::request(const protocol::Request&, Call,
                                                               uint64_t, Outcome&, bool);
template std::optional<protocol::DeriveReply> Module::request(const protocol::Request&, Call,
                                                              uint64_t, Outcome&, bool);
template std::optional<protocol::RandomReply> Module::request(const protocol::Request&, Call,
                                                              uint64_t, Outcome&, bool);

CK_RV Module::fail(const Outcome& o, const Session& session) {
    debug(o.message);
    if (o.rv == CKR_KEY_HANDLE_INVALID) {
        // The agent no longer knows the key: was the card pulled?
        refresh_status();
    }
    std::lock_guard lock(mutex_);
    SlotState* slot = slots_.find(session.slot);
    if (slot == nullptr)
        return o.rv;
    if (o.effect == Effect::token_locked)
        slots_.mark_locked(session.slot);
    if (o.effect == Effect::token_absent)
        slots_.mark_absent(session.slot);
    if (o.rv == CKR_KEY_HANDLE_INVALID &&
        (!slot->present || slot->generation != session.generation)) {
        return CKR_DEVICE_REMOVED;
    }
    return o.rv;
}

void Module::check_epoch_locked() {
    const uint64_t epoch = pool_.epoch();
    if (epoch == seen_epoch_)
        return;
    if (seen_epoch_ != 0) {
        // Another agent: every session, login and derived key belonged to the old one.
        sessions_.clear();
        std::erase_if(objects_, [](const auto& o) { return o.second->owner != 0; });
        slots_.log_out_all();
    }
    seen_epoch_ = epoch;
}

bool Module::refresh_status() {
    Outcome o;
    auto status = request<protocol::StatusReply>(protocol::StatusRequest{}, Call::slot, 0, o);
    std::lock_guard lock(mutex_);
    check_epoch_locked();
    if (!status) {
        last_error_ = o.message;
        debug("no status from attache-agent: " + o.message);
        slots_.all_absent();
    } else {
        last_error_.clear();
        slots_.apply(*status);
    }
    events_.notify_all();
    return status.has_value();
}

bool Module::refresh_keys() {
    Outcome o;
    auto keys = request<protocol::ListKeysReply>(protocol::ListKeysRequest{}, Call::slot, 0, o);
    if (!keys) {
        debug("no key list from attache-agent: " + o.message);
        return false;
    }
    std::lock_guard lock(mutex_);
    check_epoch_locked();
    std::set<ObjectKey> live;
    std::set<std::pair<CK_SLOT_ID, std::string>> seen_keys;
    for (const auto& entry : keys->keys) {
        if (options_.hides(entry.type))
            continue;
        if (options_.signing_keys_only && !(entry.served && (entry.operations & protocol::kOpSign)))
            continue;
        SlotState* slot = slots_.find(TokenIdentity{entry.token_label, entry.token_serial});
        if (slot == nullptr || !slot->present)
            continue;
        const auto cache_key = std::make_pair(slot->id, entry.id);
        if (!seen_keys.insert(cache_key).second)
            continue;  // the same key twice: the first one counts
        CachedKey& cached = key_cache_[cache_key];
        bool changed = false;
        if (!cached.built || !same_key(cached.entry, entry)) {
            auto built = build_key_objects(entry);
            if (!built) {
                debug("key " + entry.id + " left out: " + built.error().message());
                key_cache_.erase(cache_key);
                seen_keys.erase(cache_key);
                continue;
            }
            cached.entry = entry;
            cached.key = std::make_shared<const PublicKeyInfo>(built->key);
            cached.built = std::make_shared<const KeyObjects>(std::move(*built));
            changed = true;
        }
        for (const ObjectSpec& spec : cached.built->objects)
            publish_locked(*slot, entry.id, spec, cached.built, cached.key, changed, live);
    }
    for (const auto& authority : keys->authorities) {
        const SlotState* slot =
            slots_.find(TokenIdentity{authority.token_label, authority.token_serial});
        if (slot == nullptr || !slot->present)
            continue;
        auto spec = build_authority_object(authority);
        if (!spec) {
            debug("an authority certificate left out: " + spec.error().message());
            continue;
        }
        // Named by its certificate: the same CA keeps its handle while it stays listed.
        publish_locked(*slot, authority_object_id(authority.certificate), *spec, nullptr, nullptr,
                       true, live);
    }
    // Keys that went away (or whose token did): their handles are never valid again.
    for (auto it = token_handles_.begin(); it != token_handles_.end();) {
        if (live.count(it->first)) {
            ++it;
        } else {
            objects_.erase(it->second);
            it = token_handles_.erase(it);
        }
    }
    std::erase_if(key_cache_, [&](const auto& c) { return !seen_keys.count(c.first); });
    return true;
}

void Module::publish_locked(const SlotState& slot, const std::string& id, const ObjectSpec& spec,
                            const std::shared_ptr<const KeyObjects>& built,
                            const std::shared_ptr<const PublicKeyInfo>& key, bool changed,
                            std::set<ObjectKey>& live) {
    ObjectKey object_key{slot.id, id, spec.klass};
    live.insert(object_key);
    auto [it, added] = token_handles_.try_emplace(object_key, 0);
    if (!added && spec.is_private && slot.logged_in) {
        // A private key's handle lives for one login view: after a logout or a lock, the
        // same key comes back under a new handle when the next view starts (until then the
        // old one says CKR_USER_NOT_LOGGED_IN).
        auto existing = objects_.find(it->second);
        if (existing == objects_.end() || existing->second->login_epoch != slot.login_epoch) {
            objects_.erase(it->second);
            added = true;
        }
    }
    if (added)
        it->second = next_handle();
    if (!added && !changed && objects_.count(it->second))
        return;
    auto object = std::make_shared<Object>();
    object->handle = it->second;
    object->slot = slot.id;
    object->klass = spec.klass;
    object->is_private = spec.is_private;
    object->key_id = id;
    object->key = key;
    if (built) {
        object->operations = built->operations;
        object->always_authenticate = built->always_authenticate;
        object->decrypt_support = built->decrypt_support;
    }
    object->attributes = spec.attributes;
    object->login_epoch = slot.login_epoch;
    objects_[it->second] = std::move(object);
}

std::vector<KeySummary> Module::key_summaries_locked(CK_SLOT_ID slot) const {
    std::vector<KeySummary> out;
    for (const auto& [key, cached] : key_cache_) {
        if (key.first == slot && cached.key)
            out.push_back({cached.key->type, cached.key->bits, cached.built->operations});
    }
    return out;
}

CK_RV Module::get_slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
    if (count == nullptr)
        return CKR_ARGUMENTS_BAD;
    bool refresh = true;
    {
        std::lock_guard lock(mutex_);
        // The call with a buffer that follows a size query uses the same list.
        if (list != nullptr && slot_list_counted_)
            refresh = false;
        slot_list_counted_ = list == nullptr;
    }
    if (refresh)
        refresh_status();
    std::lock_guard lock(mutex_);
    const auto ids = slots_.list(token_present != CK_FALSE);
    if (list == nullptr) {
        *count = ids.size();
        return CKR_OK;
    }
    if (*count < ids.size()) {
        *count = ids.size();
        return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; i < ids.size(); ++i)
        list[i] = ids[i];
    *count = ids.size();
    return CKR_OK;
}

CK_RV Module::get_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
    if (info == nullptr)
        return CKR_ARGUMENTS_BAD;
    refresh_status();
    std::lock_guard lock(mutex_);
    const SlotState* s = slots_.find(slot);
    if (s == nullptr)
        return CKR_SLOT_ID_INVALID;
    fill_slot_info(*s, *info);
    return CKR_OK;
}

CK_RV Module::get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
    if (info == nullptr)
        return CKR_ARGUMENTS_BAD;
    refresh_status();
    std::lock_guard lock(mutex_);
    const SlotState* s = slots_.find(slot);
    if (s == nullptr)
        return CKR_SLOT_ID_INVALID;
    if (!s->present)
        return CKR_TOKEN_NOT_PRESENT;
    fill_token_info(*s, *info);
    return CKR_OK;
}

CK_RV Module::wait_for_slot_event(CK_FLAGS flags, CK_SLOT_ID_PTR slot) {
    if (slot == nullptr)
        return CKR_ARGUMENTS_BAD;
    // The agent reports presence in its status; it is polled while an application waits.
    constexpr auto kPollInterval = std::chrono::milliseconds(250);
    for (;;) {
        refresh_status();
        std::unique_lock lock(mutex_);
        if (shutting_down_)
            return CKR_CRYPTOKI_NOT_INITIALIZED;
        if (auto id = slots_.take_event()) {
            *slot = *id;
            return CKR_OK;
        }
        if (flags & CKF_DONT_BLOCK)
            return CKR_NO_EVENT;
        events_.wait_for(lock, kPollInterval, [&] { return shutting_down_; });
        if (shutting_down_)
            return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
}

CK_RV Module::get_mechanism_list(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
    if (count == nullptr)
        return CKR_ARGUMENTS_BAD;
    bool known;
    {
        std::lock_guard lock(mutex_);
        const SlotState* s = slots_.find(slot);
        if (s == nullptr)
            return CKR_SLOT_ID_INVALID;
        known = !key_summaries_locked(slot).empty();
    }
    if (list == nullptr || !known)
        refresh_keys();
    std::lock_guard lock(mutex_);
    const SlotState* s = slots_.find(slot);
    if (s == nullptr)
        return CKR_SLOT_ID_INVALID;
    if (!s->present)
        return CKR_TOKEN_NOT_PRESENT;
    const auto mechanisms = mechanism_list(key_summaries_locked(slot));
    if (list == nullptr) {
        *count = mechanisms.size();
        return CKR_OK;
    }
    if (*count < mechanisms.size()) {
        *count = mechanisms.size();
        return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; i < mechanisms.size(); ++i)
        list[i] = mechanisms[i];
    *count = mechanisms.size();
    return CKR_OK;
}

CK_RV Module::get_mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                                 CK_MECHANISM_INFO_PTR info) {
    if (info == nullptr)
        return CKR_ARGUMENTS_BAD;
    bool known;
    {
        std::lock_guard lock(mutex_);
        if (slots_.find(slot) == nullptr)
            return CKR_SLOT_ID_INVALID;
        known = !key_summaries_locked(slot).empty();
    }
    if (!known)
        refresh_keys();
    std::lock_guard lock(mutex_);
    const SlotState* s = slots_.find(slot);
    if (s == nullptr)
        return CKR_SLOT_ID_INVALID;
    if (!s->present)
        return CKR_TOKEN_NOT_PRESENT;
    CK_MECHANISM_INFO result{};
    if (!mechanism_info(type, key_summaries_locked(slot), result))
        return CKR_MECHANISM_INVALID;
    *info = result;
    return CKR_OK;
}

}  // namespace attache::forwarding
