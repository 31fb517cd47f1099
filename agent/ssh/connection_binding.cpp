#include "agent/ssh/connection_binding.h"

#include <algorithm>

#include "agent/ssh/keys.h"
#include "agent/ssh/session_bind.h"

namespace attache::ssh {

Status ConnectionBinding::bind(const SessionBind& request) {
    Status recorded = record(request);
    if (!recorded)
        failed_ = true;
    return recorded;
}

Status ConnectionBinding::record(const SessionBind& request) {
    ATTACHE_CHECK(verify_session_bind(request));
    for (const Binding& b : bindings_) {
        if (!b.forwarding) {
            return Error("session-bind: the connection was already bound for authentication to " +
                         fingerprint_sha256(b.hostkey));
        }
        if (b.session_id == request.session_id) {
            if (b.hostkey == request.hostkey)
                return ok();  // already recorded (ssh binds each forwarded channel again)
            return Error("session-bind: the session id was already bound to host key " +
                         fingerprint_sha256(b.hostkey));
        }
        // A new session id with a known host key: several connections to one host.
    }
    if (bindings_.size() >= kMaxSessionBindings) {
        return Error("session-bind: more than " + std::to_string(kMaxSessionBindings) +
                     " binds on one connection");
    }
    bindings_.push_back(Binding{request.hostkey, request.session_id, request.is_forwarding});
    return ok();
}

bool ConnectionBinding::forwarded() const {
    return std::any_of(bindings_.begin(), bindings_.end(),
                       [](const Binding& b) { return b.forwarding; });
}

std::string ConnectionBinding::destination() const {
    return bindings_.empty() ? std::string() : fingerprint_sha256(bindings_.back().hostkey);
}

}  // namespace attache::ssh
