#pragma once

// Which login session a client process belongs to. The agent's directory asks logind
// (agent/workstation/login_sessions.h); tests give their own.

#include <sys/types.h>

#include <string>

#include "agent/request/context.h"

namespace attache::agent {

struct LoginSession {
    std::string id;  // logind's session id; empty: none or unknown
    SessionKind kind = SessionKind::none;
    std::string seat;     // Seat's id; "" when the session has no seat
    std::string klass;    // Class: "user", "greeter", "lock-screen", "background", ...
    bool active = false;  // Active: the session in the foreground of its seat

    // Not remote, on a seat, of class user and active: the user at the machine.
    bool at_seat() const {
        return kind != SessionKind::remote && !seat.empty() && klass == "user" && active;
    }
};

class SessionDirectory {
  public:
    virtual ~SessionDirectory() = default;
    // Never fails: a process without a session, or a directory that cannot be asked, gives
    // SessionKind::none.
    virtual LoginSession session_of(pid_t pid) = 0;
};

// True when an sshd (an OpenSSH server process, by executable or by comm) is among the
// client's ancestors.
bool has_sshd_ancestor(const ClientFacts& client);

// Fills client.session, client.session_id, the seat, class, active and at_seat from `directory`
// (may be null). When it knows no session for the pid, a client with an sshd among its ancestors is
// remote; otherwise none.
void add_session_facts(ClientFacts& client, SessionDirectory* directory);

}  // namespace attache::agent
