#pragma once

// The records one user may read (`attache log`): the broker reads its audit file and answers
// a caller with the operation records whose client uid is the caller's, never anyone else's,
// and nothing of the chain's own records (headers, restarts).

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/audit/record_line.h"

namespace attache::audit {

struct UserRecord {
    size_t line = 0;
    std::uint64_t seq = 0;
    std::string time;
    Fields fields;  // the operation's fields (op, via, key, pid, uid, exe, ..., result)
};

// `uid`'s operation records in `text` (an audit file), oldest first: the newest `max_records`
// of them. Lines that do not parse are skipped (verify reports them).
std::vector<UserRecord> user_records(std::string_view text, uid_t uid, size_t max_records);

Result<std::vector<UserRecord>> read_user_records(const std::string& path, uid_t uid,
                                                  size_t max_records);

}  // namespace attache::audit
