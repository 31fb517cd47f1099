#pragma once

// Confirmations the user gave "for N seconds" (a policy rule's `remember`): per executable,
// user, login session and key, so that the same program in the same session does not ask
// again until the time is up. Another program, session or key asks again. Bounded: the oldest
// entry goes when the table is full.

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace attache::agent {

class RememberedUses {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr size_t kMaxEntries = 256;

    struct Use {
        std::string exe;
        uid_t uid = 0;
        std::string session_id;
        std::string key_id;
        bool operator==(const Use&) const = default;
    };

    // True while a confirmation of `use` is remembered.
    bool recall(const Use& use) const;
    void remember(const Use& use, std::chrono::seconds how_long);
    // Everything is forgotten (a lock: the next use asks again).
    void forget_all();

  private:
    struct Entry {
        Use use;
        Clock::time_point until;
    };
    mutable std::mutex mutex_;
    std::vector<Entry> entries_;
};

}  // namespace attache::agent
