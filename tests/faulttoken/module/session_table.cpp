#include "tests/faulttoken/module/session_table.h"

namespace attache::faulttoken {

CK_SESSION_HANDLE SessionTable::add(CK_SESSION_HANDLE real_handle, CK_SLOT_ID slot,
                                    std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    const CK_SESSION_HANDLE handle = next_handle_++;
    sessions_.emplace(handle, SessionRecord{real_handle, slot, generation, false});
    return handle;
}

std::optional<SessionRecord> SessionTable::find(CK_SESSION_HANDLE handle) const {
    std::lock_guard lock(mutex_);
    const auto found = sessions_.find(handle);
    if (found == sessions_.end()) {
        return std::nullopt;
    }
    return found->second;
}

void SessionTable::erase(CK_SESSION_HANDLE handle) {
    std::lock_guard lock(mutex_);
    sessions_.erase(handle);
}

void SessionTable::erase_slot(CK_SLOT_ID slot) {
    std::lock_guard lock(mutex_);
    std::erase_if(sessions_, [slot](const auto& entry) { return entry.second.slot_id == slot; });
}

void SessionTable::clear() {
    std::lock_guard lock(mutex_);
    sessions_.clear();
}

std::vector<CK_SESSION_HANDLE> SessionTable::mark_removed(CK_SLOT_ID slot,
                                                          std::uint64_t generation) {
    std::vector<CK_SESSION_HANDLE> real_handles;
    std::lock_guard lock(mutex_);
    for (auto& [handle, record] : sessions_) {
        if (record.slot_id == slot && !record.removed && record.generation != generation) {
            record.removed = true;
            real_handles.push_back(record.real_handle);
        }
    }
    return real_handles;
}

SessionTable& session_table() {
    static SessionTable& table = *new SessionTable;
    return table;
}

}  // namespace attache::faulttoken
