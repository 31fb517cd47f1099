#pragma once

// What every user command does with the agent: connect, call, and turn an agent error into a
// CommandFailure (cli/command_output.h) whose message says what happened to the card and what
// to do, with a stable exit code. The agent's own message and the CK_RV behind it are the
// failure's detail (--verbose).

#include <CLI/CLI.hpp>

#include <string>

#include "cli/command_output.h"
#include "pkcs11/agent_protocol/client.h"
#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/result.h"

namespace attache::cli {

// Connects to $ATTACHE_SOCK (or the default socket); a kAgentNotRunning failure when it cannot.
protocol::Client connect_agent();

// Exit code for an agent error.
int exit_code_for(protocol::ErrorCode code);

// "card 'alice' (serial 0123)": how messages name a card.
std::string card_name(const std::string& label, const std::string& serial);

// Throws the CommandFailure for an agent's error reply about `card` (empty: "the card").
[[noreturn]] void fail_with(const protocol::ErrorReply& error, const std::string& card = {});

// Calls the agent and expects a reply of type T; anything else is a CommandFailure.
template <typename T>
T call_agent(protocol::Client& client, const protocol::Request& request,
             const std::string& card = {}) {
    auto reply = client.call(request);
    if (!reply)
        throw CommandFailure(kFailure, "the connection to the agent failed: restart it and retry",
                             reply.error().message());
    if (auto* e = std::get_if<protocol::ErrorReply>(&*reply))
        fail_with(*e, card);
    if (auto* t = std::get_if<T>(&*reply))
        return std::move(*t);
    fail(kFailure, "the agent sent an unexpected reply: is it the same version as attache?");
}

// --key, required: what resolve_key() accepts.
void add_key_option(CLI::App& command, std::string& key);

// Finds the one key a user named, in the agent's list: its key id or a PKCS#11 URI, its label
// as `attache keys` shows it, or an unambiguous prefix of its key id. None: kKeyNotFound;
// several: kKeyNotFound too, listing them (JSON "candidates").
protocol::KeyEntry resolve_key(protocol::Client& client, const std::string& ref);

// Human text for PIN flags: "1 PIN try left: a wrong PIN blocks the card", "few PIN tries left".
std::string pin_state_text(uint64_t flags);

}  // namespace attache::cli
