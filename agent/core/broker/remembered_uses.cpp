#include "agent/core/broker/remembered_uses.h"

#include <algorithm>

namespace attache::agent {

bool RememberedUses::recall(const Use& use) const {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const Entry& e) { return e.use == use && e.until > now; });
}

void RememberedUses::remember(const Use& use, std::chrono::seconds how_long) {
    if (how_long.count() <= 0)
        return;
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    std::erase_if(entries_, [&](const Entry& e) { return e.until <= now || e.use == use; });
    if (entries_.size() >= kMaxEntries) {
        entries_.erase(
            std::min_element(entries_.begin(), entries_.end(),
                             [](const Entry& a, const Entry& b) { return a.until < b.until; }));
    }
    entries_.push_back({use, now + how_long});
}

void RememberedUses::forget_all() {
    std::lock_guard lock(mutex_);
    entries_.clear();
}

}  // namespace attache::agent
