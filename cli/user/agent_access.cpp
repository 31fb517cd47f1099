#include "cli/user/agent_access.h"

#include <cstdio>

#include "cli/exit_codes.h"
#include "pkcs11/uri.h"

namespace attache::cli {

using protocol::ErrorCode;

std::optional<protocol::Client> connect_agent() {
    auto client = protocol::Client::connect(protocol::default_socket_path(), "attache");
    if (!client) {
        std::fprintf(stderr, "attache: %s\n", client.error().message().c_str());
        return std::nullopt;
    }
    return std::move(*client);
}

int exit_code_for(ErrorCode code) {
    switch (code) {
        case ErrorCode::unknown_key:
        case ErrorCode::unknown_token:
        case ErrorCode::ambiguous_token:
            return kKeyNotFound;
        case ErrorCode::token_locked:
            return kTokenLocked;
        case ErrorCode::pin_incorrect:
            return kWrongPin;
        case ErrorCode::pin_locked:
            return kPinBlocked;
        case ErrorCode::final_try:
            return kFinalTry;
        case ErrorCode::token_absent:
            return kTokenAbsent;
        case ErrorCode::refused_by_policy:
            return kRefusedByPolicy;
        case ErrorCode::refused_by_token:
            return kRefusedByToken;
        case ErrorCode::cancelled:
            return kCancelled;
        case ErrorCode::bad_request:
            return kUsage;
        default:
            return kFailure;
    }
}

std::string pin_state_text(uint64_t flags) {
    if (flags & CKF_USER_PIN_LOCKED)
        return "PIN BLOCKED";
    if (flags & CKF_USER_PIN_FINAL_TRY)
        return "1 PIN try left: a wrong PIN blocks the card";
    if (flags & CKF_USER_PIN_COUNT_LOW)
        return "few PIN tries left";
    return "PIN ok";
}

int report(const protocol::ErrorReply& e) {
    std::fprintf(stderr, "attache: %s\n", e.message.c_str());
    if (e.code == ErrorCode::pin_incorrect) {
        std::fprintf(stderr, "attache: the PIN was not accepted; %s\n",
                     pin_state_text(e.token_flags).c_str());
    }
    return exit_code_for(e.code);
}

int report(const Error& error, int exit_code) {
    std::fprintf(stderr, "attache: %s\n", error.message().c_str());
    return exit_code;
}

std::optional<protocol::KeyEntry> resolve_key(protocol::Client& client, const std::string& ref,
                                              int& exit_code) {
    auto keys =
        call_expect<protocol::ListKeysReply>(client, protocol::ListKeysRequest{}, exit_code);
    if (!keys)
        return std::nullopt;
    std::optional<p11::Uri> uri;
    if (ref.starts_with("pkcs11:")) {
        auto parsed = p11::Uri::parse(ref);
        if (!parsed) {
            exit_code = report(parsed.error(), kUsage);
            return std::nullopt;
        }
        uri = std::move(*parsed);
    }
    std::vector<protocol::KeyEntry> found;
    for (auto& k : keys->keys) {
        bool match = k.id == ref || k.uri == ref;
        if (!match && uri) {
            match = (!uri->id() || *uri->id() == k.cka_id) &&
                    (!uri->object_label() || *uri->object_label() == k.label);
            // Token attributes are checked by the agent when the URI is sent; here the
            // object part decides, and ambiguity is reported below.
        }
        if (match)
            found.push_back(std::move(k));
    }
    if (found.size() == 1)
        return std::move(found.front());
    if (found.empty()) {
        exit_code =
            report(Error("no key matches '" + ref + "'; `attache keys` lists them"), kKeyNotFound);
    } else {
        exit_code =
            report(Error("several keys match '" + ref + "'; name one by its key id"), kKeyNotFound);
    }
    return std::nullopt;
}

}  // namespace attache::cli
