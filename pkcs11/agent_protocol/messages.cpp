#include "pkcs11/agent_protocol/messages.h"

namespace attache::protocol {

MessageType type_of(const Request& request) {
    return std::visit(
        [](const auto& r) -> MessageType {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, HelloRequest>)
                return MessageType::hello;
            if constexpr (std::is_same_v<T, StatusRequest>)
                return MessageType::status;
            if constexpr (std::is_same_v<T, ListKeysRequest>)
                return MessageType::list_keys;
            if constexpr (std::is_same_v<T, SignRequest>)
                return MessageType::sign;
            if constexpr (std::is_same_v<T, DecryptRequest>)
                return MessageType::decrypt;
            if constexpr (std::is_same_v<T, DeriveRequest>)
                return MessageType::derive;
            if constexpr (std::is_same_v<T, UnlockRequest>)
                return MessageType::unlock;
            if constexpr (std::is_same_v<T, LockRequest>)
                return MessageType::lock;
            if constexpr (std::is_same_v<T, RandomRequest>)
                return MessageType::random;
            if constexpr (std::is_same_v<T, AuditLogRequest>)
                return MessageType::audit_log;
        },
        request);
}

bool carries_pin(const Request& request) {
    if (const auto* u = std::get_if<UnlockRequest>(&request))
        return u->pin.has_value();
    if (const auto* s = std::get_if<SignRequest>(&request))
        return s->context_pin != nullptr;
    if (const auto* d = std::get_if<DecryptRequest>(&request))
        return d->context_pin != nullptr;
    return false;
}

const char* name_of(MessageType type) {
    switch (type) {
        case MessageType::hello:
            return "hello";
        case MessageType::status:
            return "status";
        case MessageType::list_keys:
            return "list-keys";
        case MessageType::sign:
            return "sign";
        case MessageType::decrypt:
            return "decrypt";
        case MessageType::derive:
            return "derive";
        case MessageType::unlock:
            return "unlock";
        case MessageType::lock:
            return "lock";
        case MessageType::random:
            return "random";
        case MessageType::audit_log:
            return "audit-log";
    }
    return "unknown";
}

const char* name_of(ErrorCode code) {
    switch (code) {
        case ErrorCode::bad_request:
            return "bad-request";
        case ErrorCode::unsupported_version:
            return "unsupported-version";
        case ErrorCode::unknown_key:
            return "unknown-key";
        case ErrorCode::token_locked:
            return "token-locked";
        case ErrorCode::pin_incorrect:
            return "pin-incorrect";
        case ErrorCode::pin_locked:
            return "pin-locked";
        case ErrorCode::final_try:
            return "final-try";
        case ErrorCode::token_absent:
            return "token-absent";
        case ErrorCode::refused_by_policy:
            return "refused-by-policy";
        case ErrorCode::refused_by_token:
            return "refused-by-token";
        case ErrorCode::device_error:
            return "device-error";
        case ErrorCode::busy:
            return "busy";
        case ErrorCode::unknown_token:
            return "unknown-token";
        case ErrorCode::cancelled:
            return "cancelled";
        case ErrorCode::ambiguous_token:
            return "ambiguous-token";
        case ErrorCode::internal:
            return "internal";
    }
    return "unknown";
}

}  // namespace attache::protocol
