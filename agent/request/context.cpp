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

}  // namespace attache::agent
