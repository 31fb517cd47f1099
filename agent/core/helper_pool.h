#pragma once

// The further helper processes of one token (issue 17's helper pool). A module whose tokens
// keep their logins per process (a software token like SoftHSM2) signs in one process at a
// time: one helper caps the token at one operation at once, however many clients wait. For such
// a token the agent starts further helpers of the same module at unlock, logs each in with the
// PIN of that one unlock (in turn, each C_Login once, never retried: the first one the token
// refuses ends the pool's growth, so no try of the PIN counter is spent on a PIN the token has
// not just accepted), and adds them to the token's session pool as further sources. The PIN is
// used once per helper and never kept; a lock logs each out and ends it.
//
// A card in a reader (removable, hardware slot), a PIN-pad token and a token allowing one
// session never get further helpers: a card has one PIN state for every process, and each
// login would spend a PIN entry.
//
// When a further helper stops (crash, kill, a hung call), its sessions leave the pool and
// `on_stop` runs, on the helper's watching thread: the token is locked then (its owner's
// decision), and the user unlocks again.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/core/key_record.h"
#include "agent/core/session_pool.h"
#include "pkcs11/module.h"
#include "pkcs11/result.h"
#include "pkcs11/secret.h"
#include "pkcs11/token_info.h"

namespace attache::agent {

struct HelperPoolSettings {
    // Helpers besides the token's own module; 0: none (no pool).
    unsigned further = 0;
    // Starts one more helper of the token's module.
    std::function<Result<p11::Module>()> start;
};

// How many further helpers a token gets: `configured` is helpers_per_token (0: one per core, at
// most kMaxAutoHelpers), less the token's own; none for a token that is not a software token or
// HSM keeping a login per process (see above).
inline constexpr unsigned kMaxAutoHelpers = 4;
unsigned further_helpers_for(unsigned configured, unsigned cores, const p11::SlotInfo& slot,
                             const p11::TokenInfo& token);

class HelperPool {
  public:
    using OnStop = std::function<void(const std::string& reason)>;

    HelperPool(HelperPoolSettings settings, SessionPool& sessions, OnStop on_stop);
    ~HelperPool();
    HelperPool(const HelperPool&) = delete;
    HelperPool& operator=(const HelperPool&) = delete;

    bool enabled() const { return settings_.further != 0 && settings_.start != nullptr; }
    // Starts the further helpers and logs each in to the token `token` (found in each by its
    // serial and label) with `pin`, one after another, adding each to the session pool.
    // Returns how many serve, the token's own included. The first helper that cannot start or
    // log in ends the growth (logged): none is tried after a login the token refused. `name`
    // is the token's display name.
    // `wanted` is asked before each helper: false (the token was locked meanwhile) stops.
    size_t log_in(const p11::TokenInfo& token, const Secret& pin, const std::string& name,
                  const std::function<bool()>& wanted);
    // Removes every further helper from the session pool, logs each out and ends it.
    void end();
    // Helpers serving now, the token's own included (1 without a pool).
    size_t serving() const;

    // The private key `key` (scanned through the token's own module) in the module `lease`'s
    // session is of: the same handle for source 0, else found by CKA_ID in that helper once and
    // remembered until end() (per object of the token's own module: a key replaced under the
    // same CKA_ID, found again by a rescan, is looked up again).
    Result<CK_OBJECT_HANDLE> key_handle(SessionPool::Lease& lease, const KeyRecord& key);

  private:
    struct Member {
        p11::Module module;
        uint32_t source = 0;
        std::optional<p11::Session> login;  // the session the login was made on
        // By the token's own module's handle and CKA_ID.
        std::map<std::pair<CK_OBJECT_HANDLE, Bytes>, CK_OBJECT_HANDLE> handles;
    };

    Result<std::unique_ptr<Member>> start_one(const p11::TokenInfo& token, const Secret& pin);
    void stopped(uint32_t source, const std::string& reason);

    const HelperPoolSettings settings_;
    SessionPool& sessions_;
    const OnStop on_stop_;
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Member>> members_;
};

}  // namespace attache::agent
