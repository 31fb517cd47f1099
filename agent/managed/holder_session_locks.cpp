#include "agent/managed/holder_session_locks.h"

#include <unistd.h>

#include "agent/core/log.h"
#include "agent/server/peer.h"

namespace attache::agent {

bool HolderSessionLocks::audited_lock(Token& token, uid_t holder, const std::string& reason,
                                      const std::string& session_id) {
    if (!token.lock(reason))
        return false;  // it was not unlocked: nothing happened to record
    log_info("locked " + token.display_name() + ": " + reason);
    AuditRecord record;
    record.operation = OperationKind::lock;
    record.channel = Channel::logind;
    record.on_token = true;
    record.subject = token.serial();
    record.client.uid = holder;
    record.client.session_id = session_id;
    record.result = "ok";
    record.reason = reason;
    audit_.record(record);
    return true;
}

int HolderSessionLocks::lock_holder(uid_t uid, const std::string& reason,
                                    const std::string& session_id) {
    const std::string user = login_name(uid);
    if (user.empty() || !holders_)
        return 0;  // no login name: no card of the manifest's can be this user's
    int locked = 0;
    for (const auto& token : tokens_.tokens()) {
        if (!token->unlocked() || !holders_->check_card(*token, user).served)
            continue;
        if (audited_lock(*token, uid, reason, session_id))
            ++locked;
    }
    return locked;
}

int HolderSessionLocks::lock_all_for_sleep(const std::vector<uid_t>& users) {
    int locked = 0;
    for (const auto& token : tokens_.tokens()) {
        if (!token->unlocked())
            continue;
        // The holder, if one of the users logind knows; else the broker's own uid (no holder
        // is logged in: the card was served outside any session, by the admin's policy).
        uid_t holder = getuid();
        for (uid_t uid : users) {
            const std::string user = login_name(uid);
            if (!user.empty() && holders_ && holders_->check_card(*token, user).served) {
                holder = uid;
                break;
            }
        }
        if (audited_lock(*token, holder, "sleep", ""))
            ++locked;
    }
    return locked;
}

}  // namespace attache::agent
