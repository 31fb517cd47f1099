#include "agent/audit/user_records.h"

#include <deque>

#include "agent/audit/audit_file.h"

namespace attache::audit {

std::vector<UserRecord> user_records(std::string_view text, uid_t uid, size_t max_records) {
    const std::string want = std::to_string(uid);
    std::deque<UserRecord> newest;
    size_t number = 0;
    size_t pos = 0;
    while (pos < text.size() && max_records > 0) {
        const size_t end = std::min(text.find('\n', pos), text.size());
        const std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++number;
        auto parsed = parse_line(line);
        if (!parsed || parsed->get("type") != "op" || parsed->get("uid") != want)
            continue;
        auto seq = parse_seq(parsed->get("seq").value_or(""));
        if (!seq)
            continue;
        UserRecord r{number, *seq, std::string(parsed->get("time").value_or("")), {}};
        for (auto& [name, value] : parsed->fields) {
            if (name != "seq" && name != "chain" && name != "time" && name != "type")
                r.fields.emplace_back(std::move(name), std::move(value));
        }
        if (newest.size() == max_records)
            newest.pop_front();
        newest.push_back(std::move(r));
    }
    return {std::make_move_iterator(newest.begin()), std::make_move_iterator(newest.end())};
}

Result<std::vector<UserRecord>> read_user_records(const std::string& path, uid_t uid,
                                                  size_t max_records) {
    ATTACHE_TRY(std::string text, read_audit_file(path));
    return user_records(text, uid, max_records);
}

}  // namespace attache::audit
