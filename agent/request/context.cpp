#include "agent/request/context.h"

namespace attache::agent {

std::string_view channel_name(Channel channel) {
    switch (channel) {
        case Channel::native:
            return "native";
        case Channel::forwarding_module:
            return "pkcs11";
        case Channel::ssh:
            return "ssh";
        case Channel::logind:
            return "logind";
    }
    return "?";
}

std::string_view session_kind_name(SessionKind kind) {
    switch (kind) {
        case SessionKind::local:
            return "local";
        case SessionKind::remote:
            return "remote";
        case SessionKind::none:
            return "none";
    }
    return "?";
}

std::string_view operation_name(OperationKind kind) {
    switch (kind) {
        case OperationKind::sign:
            return "sign";
        case OperationKind::decrypt:
            return "decrypt";
        case OperationKind::derive:
            return "derive";
        case OperationKind::unlock:
            return "unlock";
        case OperationKind::lock:
            return "lock";
        case OperationKind::list:
            return "list";
    }
    return "?";
}

uint64_t client_key(const ClientFacts& client) {
    if (client.pid <= 0)
        return (uint64_t{1} << 63) | client.connection;
    // pid_max is at most 2^22 (PID_MAX_LIMIT), so pid and start time name a process exactly.
    return (client.start_time << 22) ^ static_cast<uint64_t>(client.pid);
}

}  // namespace attache::agent
