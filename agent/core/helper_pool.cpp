#include "agent/core/helper_pool.h"

#include <algorithm>

#include "agent/core/agent_error.h"
#include "agent/core/log.h"

namespace attache::agent {

unsigned further_helpers_for(unsigned configured, unsigned cores, const p11::SlotInfo& slot,
                             const p11::TokenInfo& token) {
    if ((slot.flags & (CKF_REMOVABLE_DEVICE | CKF_HW_SLOT)) != 0)
        return 0;  // a card in a reader: one PIN state for every process
    if (token.protected_authentication_path())
        return 0;  // each login would be a PIN entry on the pad
    if (token.raw.ulMaxSessionCount == 1)
        return 0;
    const unsigned wanted = configured != 0 ? configured : std::clamp(cores, 1u, kMaxAutoHelpers);
    return wanted - 1;
}

HelperPool::HelperPool(HelperPoolSettings settings, SessionPool& sessions, OnStop on_stop)
    : settings_(std::move(settings)), sessions_(sessions), on_stop_(std::move(on_stop)) {}

HelperPool::~HelperPool() {
    end();
}

size_t HelperPool::log_in(const p11::TokenInfo& token, const Secret& pin, const std::string& name,
                          const std::function<bool()>& wanted) {
    if (!enabled())
        return serving();
    for (unsigned i = 0; i < settings_.further && wanted(); ++i) {
        auto member = start_one(token, pin);
        if (!member) {
            log_warning("token " + name + ": a further helper process does not serve it (" +
                        member.error().message() + "); " + std::to_string(serving()) + " serve it");
            break;
        }
        const uint32_t source = sessions_.add_source((*member)->module, (*member)->login->slot());
        (*member)->source = source;
        p11::Module module = (*member)->module;
        {
            std::lock_guard lock(mutex_);
            members_.push_back(std::move(*member));
        }
        // Registered once the member is listed: a helper that stopped already reports at once,
        // on this thread.
        module.on_stop([this, source](const std::string& reason) { stopped(source, reason); });
    }
    return serving();
}

Result<std::unique_ptr<HelperPool::Member>> HelperPool::start_one(const p11::TokenInfo& token,
                                                                  const Secret& pin) {
    ATTACHE_TRY(p11::Module module, settings_.start());
    ATTACHE_TRY(auto slots, module.slots(/*with_token_only=*/true));
    std::optional<CK_SLOT_ID> slot;
    for (CK_SLOT_ID s : slots) {
        auto info = module.token_info(s);
        if (info && info->serial == token.serial && info->label == token.label) {
            slot = s;
            break;
        }
    }
    if (!slot)
        return Error("its module shows no token with serial " + token.serial);
    ATTACHE_TRY(p11::Session session, module.open_session(*slot));
    ATTACHE_CHECK(session.login(CKU_USER, &pin));
    auto member = std::make_unique<Member>(Member{std::move(module), 0, std::move(session), {}});
    return member;
}

void HelperPool::stopped(uint32_t source, const std::string& reason) {
    {
        // A helper end() already let go of says nothing about the token's login now.
        std::lock_guard lock(mutex_);
        if (std::none_of(members_.begin(), members_.end(),
                         [&](const auto& m) { return m->source == source; }))
            return;
    }
    // Only the pool's entry goes here: the member (and its helper's watching thread, this one)
    // is ended by end(), on another thread.
    sessions_.remove_source(source);
    if (on_stop_)
        on_stop_(reason);
}

void HelperPool::end() {
    std::vector<std::unique_ptr<Member>> ending;
    {
        std::lock_guard lock(mutex_);
        ending.swap(members_);
    }
    for (auto& m : ending) {
        sessions_.remove_source(m->source);
        if (m->login && m->module.alive())
            (void)m->login->logout();  // ending the helper ends its login in any case
        m->login.reset();
    }
    // The helpers end here (once their last session in use is given back).
}

size_t HelperPool::serving() const {
    std::lock_guard lock(mutex_);
    return 1 + static_cast<size_t>(std::count_if(members_.begin(), members_.end(),
                                                 [](const auto& m) { return m->module.alive(); }));
}

Result<CK_OBJECT_HANDLE> HelperPool::key_handle(SessionPool::Lease& lease, const KeyRecord& key) {
    if (lease.source() == 0)
        return key.private_handle;
    std::lock_guard lock(mutex_);
    auto m = std::find_if(members_.begin(), members_.end(),
                          [&](const auto& x) { return x->source == lease.source(); });
    if (m == members_.end())
        return agent_error(ErrorCode::token_locked, "the token was locked during the operation");
    const auto which = std::make_pair(key.private_handle, key.cka_id);
    if (auto h = (*m)->handles.find(which); h != (*m)->handles.end())
        return h->second;
    p11::AttributeTemplate find;
    find.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add_bytes(CKA_ID, key.cka_id);
    ATTACHE_TRY(auto handles, lease->find(std::move(find)));
    if (handles.size() != 1) {
        return agent_error(ErrorCode::unknown_key,
                           "a helper process of the token shows " + std::to_string(handles.size()) +
                               " private keys with the CKA_ID of key " + key.id + ", not one");
    }
    (*m)->handles.emplace(which, handles.front());
    return handles.front();
}

}  // namespace attache::agent
