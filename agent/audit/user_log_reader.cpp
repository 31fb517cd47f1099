#include "agent/audit/user_log_reader.h"

#include "agent/audit/user_records.h"

namespace attache::audit {

Result<std::vector<agent::UserAuditRecord>> ChainedFileLogReader::records_of(uid_t uid,
                                                                             size_t max_records) {
    ATTACHE_TRY(std::vector<UserRecord> records, read_user_records(path_, uid, max_records));
    std::vector<agent::UserAuditRecord> out;
    out.reserve(records.size());
    for (auto& r : records)
        out.push_back({r.seq, std::move(r.time), std::move(r.fields)});
    return out;
}

}  // namespace attache::audit
