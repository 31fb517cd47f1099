#pragma once

// What every user command does with the agent: connect, call, and turn an agent error into a
// message that says what to do next and a stable exit code.

#include <optional>
#include <string>

#include "agent/protocol/client.h"
#include "agent/protocol/messages.h"
#include "pkcs11/result.h"

namespace attache::cli {

// Connects to $ATTACHE_SOCK (or the default socket); prints the error and returns nullopt when
// the agent is not running.
std::optional<protocol::Client> connect_agent();

// Exit code for an agent error.
int exit_code_for(protocol::ErrorCode code);

// Prints "attache: <message>" (and a hint) to stderr; returns the exit code.
int report(const protocol::ErrorReply& error);
int report(const Error& error, int exit_code);

// Calls the agent and expects a reply of type T. On any other outcome prints the problem and
// stores the exit code.
template <typename T>
std::optional<T> call_expect(protocol::Client& client, const protocol::Request& request,
                             int& exit_code) {
    auto reply = client.call(request);
    if (!reply) {
        exit_code = report(reply.error(), 1);
        return std::nullopt;
    }
    if (auto* e = std::get_if<protocol::ErrorReply>(&*reply)) {
        exit_code = report(*e);
        return std::nullopt;
    }
    if (auto* t = std::get_if<T>(&*reply))
        return std::move(*t);
    exit_code = report(Error("the agent sent an unexpected reply"), 1);
    return std::nullopt;
}

// Finds the key a user named (key id or PKCS#11 URI) in the agent's list.
std::optional<protocol::KeyEntry> resolve_key(protocol::Client& client, const std::string& ref,
                                              int& exit_code);

// Human text for PIN flags: "1 try left — a wrong PIN blocks the card", "few tries left", ...
std::string pin_state_text(uint64_t flags);

}  // namespace attache::cli
