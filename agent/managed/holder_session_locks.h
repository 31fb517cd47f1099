#pragma once

// Managed mode: a holder's cards are locked when the holder stops being at the machine. The
// broker serves each card only to its holder's seat session (the managed policy); when that
// session locks, is switched away from or ends, or the machine goes to sleep, the cards the
// card manifest gives to that session's user are locked (Token::lock), with the reason
// `attache status` shows ("session locked", "user switched", "logged out", "sleep"), and each
// lock is audited (via=logind, the holder's uid, the logind session).
//
// The events come from SeatSessionWatcher (agent/workstation/seat_session_watch.h); this class
// only decides which cards they lock.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/core/broker/audit_sink.h"
#include "agent/core/card_holders.h"
#include "agent/core/token_manager.h"

namespace attache::agent {

class HolderSessionLocks {
  public:
    HolderSessionLocks(TokenManager& tokens, std::shared_ptr<CardHolders> holders, AuditSink& audit)
        : tokens_(tokens), holders_(std::move(holders)), audit_(audit) {}

    // Locks the unlocked cards held by `uid`; returns how many.
    int lock_holder(uid_t uid, const std::string& reason, const std::string& session_id);
    // Locks every unlocked card ("sleep"); `users` (the uids logind has sessions of) name the
    // holder in each card's audit record. Returns how many.
    int lock_all_for_sleep(const std::vector<uid_t>& users);

  private:
    // True when the token was unlocked and is locked now.
    bool audited_lock(Token& token, uid_t holder, const std::string& reason,
                      const std::string& session_id);

    TokenManager& tokens_;
    std::shared_ptr<CardHolders> holders_;
    AuditSink& audit_;
};

}  // namespace attache::agent
