#pragma once

// What the session-binds of one agent connection established, with the rules of OpenSSH's
// ssh-agent (process_ext_session_bind): every bind is verified (session_bind.h); at most
// kMaxSessionBindings per connection; once a connection was bound for authentication
// (is_forwarding false) no further bind is accepted; the same session id bound again with the
// same host key is accepted and changes nothing, with another host key it fails.
//
// Stricter than OpenSSH in one point: a failed bind marks the connection for good (failed()),
// and nothing is signed on it afterwards, even if an earlier bind had succeeded. OpenSSH only
// refuses when no bind succeeded (identity_permitted), and only for constrained keys.

#include <cstddef>
#include <string>
#include <vector>

#include "agent/ssh/messages.h"
#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::ssh {

// ssh-agent.c AGENT_MAX_SESSION_IDS: a chain of forwardings longer than this is not a login.
inline constexpr size_t kMaxSessionBindings = 16;

struct Binding {
    Bytes hostkey;     // the server's host key blob, as verified
    Bytes session_id;  // the session's exchange hash
    bool forwarding = false;
};

class ConnectionBinding {
  public:
    // Verifies one session-bind and records it under the rules above. Any error (bad
    // signature, too many binds, a bind after an authentication bind, a session id already
    // bound to another key) marks the connection failed and says why.
    Status bind(const SessionBind& request);

    bool bound() const { return !bindings_.empty(); }
    bool failed() const { return failed_; }
    // Some bind said is_forwarding: the agent is being used through `ssh -A` from a host
    // further along.
    bool forwarded() const;
    // The binding ssh made last: the session a userauth signature is for.
    const Binding* last() const { return bindings_.empty() ? nullptr : &bindings_.back(); }
    // "SHA256:..." of the last bound host key; empty while unbound.
    std::string destination() const;
    const std::vector<Binding>& bindings() const { return bindings_; }

  private:
    Status record(const SessionBind& request);

    std::vector<Binding> bindings_;
    bool failed_ = false;
};

}  // namespace attache::ssh
