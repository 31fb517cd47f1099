// attache unlock / attache lock.
//
// unlock checks the token's PIN state before asking for a PIN: a blocked PIN is reported
// without a prompt, and the last try needs --confirm-final-try. The agent enforces both again.
// With --pin-source pinentry the agent itself asks, through pinentry on the desktop: the PIN
// then never passes through this process or the terminal, and the dialog asks to confirm
// the last try.

#include <cstdio>
#include <cstring>
#include <iostream>

#include "cli/exit_codes.h"
#include "cli/secret_source.h"
#include "cli/user/agent_access.h"
#include "cli/user/user_commands.h"
#include "pkcs11/uri.h"

namespace attache::cli {
namespace {

// --pin-source value: no PIN in the request; the agent asks through pinentry.
constexpr const char* kAgentPinentry = "pinentry";

struct UnlockOptions {
    std::string token;
    std::string pin_source = "prompt";
    bool confirm_final_try = false;
};

void copy_padded(unsigned char* field, size_t size, const std::string& value) {
    std::memset(field, ' ', size);
    std::memcpy(field, value.data(), std::min(size, value.size()));
}

bool status_matches(const p11::Uri& uri, const protocol::TokenStatus& t) {
    p11::TokenInfo info;
    copy_padded(info.raw.label, sizeof info.raw.label, t.label);
    copy_padded(info.raw.serialNumber, sizeof info.raw.serialNumber, t.serial);
    copy_padded(info.raw.model, sizeof info.raw.model, t.model);
    copy_padded(info.raw.manufacturerID, sizeof info.raw.manufacturerID, t.manufacturer);
    return uri.matches_token(info);
}

// The token the unlock is for, from the agent's status.
std::optional<protocol::TokenStatus> pick_token(protocol::Client& client, const std::string& ref,
                                                int& exit_code) {
    auto status = call_expect<protocol::StatusReply>(client, protocol::StatusRequest{}, exit_code);
    if (!status)
        return std::nullopt;
    std::optional<p11::Uri> uri;
    if (!ref.empty()) {
        auto parsed = p11::Uri::parse(ref);
        if (!parsed) {
            exit_code = report(parsed.error(), kUsage);
            return std::nullopt;
        }
        uri = std::move(*parsed);
    }
    std::vector<protocol::TokenStatus> found;
    for (auto& t : status->tokens) {
        if (t.present && (!uri || status_matches(*uri, t)))
            found.push_back(std::move(t));
    }
    if (found.empty()) {
        exit_code = report(Error(ref.empty() ? "no token is present: insert your card"
                                             : "no token present matches " + ref),
                           ref.empty() ? kTokenAbsent : kKeyNotFound);
        return std::nullopt;
    }
    if (found.size() > 1) {
        std::string names;
        for (const auto& t : found)
            names += "\n  " + t.uri;
        exit_code = report(Error("several tokens are present; choose one with --token:" + names),
                           kKeyNotFound);
        return std::nullopt;
    }
    return std::move(found.front());
}

int run_unlock(const UnlockOptions& o) {
    auto client = connect_agent();
    if (!client)
        return kAgentNotRunning;
    int exit_code = kFailure;
    auto token = pick_token(*client, o.token, exit_code);
    if (!token)
        return exit_code;
    const std::string name = "'" + token->label + "' (serial " + token->serial + ")";
    if (token->unlocked) {
        std::cout << "token " << name << " is already unlocked\n";
        return kOk;
    }
    if (token->flags & CKF_USER_PIN_LOCKED) {
        return report(Error("the PIN of token " + name +
                            " is blocked; an admin must unblock it with `attache pin unblock`"),
                      kPinBlocked);
    }
    const bool agent_asks = o.pin_source == kAgentPinentry;
    if ((token->flags & CKF_USER_PIN_FINAL_TRY) && !o.confirm_final_try && !agent_asks) {
        return report(Error("token " + name +
                            " has ONE PIN try left: a wrong PIN blocks the card. If you are "
                            "sure of the PIN, run again with --confirm-final-try"),
                      kFinalTry);
    }
    protocol::UnlockRequest request;
    request.token = token->uri;
    request.confirm_final_try = o.confirm_final_try;
    if (token->flags & CKF_PROTECTED_AUTHENTICATION_PATH) {
        std::cerr << "Enter the PIN on the reader's PIN pad for token " << name << "\n";
    } else if (agent_asks) {
        std::cerr << "The agent asks for the PIN of token " << name << " in a pinentry dialog\n";
    } else {
        std::string prompt = "PIN for token " + name;
        if (token->flags & CKF_USER_PIN_COUNT_LOW)
            prompt += " (few tries left)";
        auto pin = read_secret(o.pin_source, prompt + ": ");
        if (!pin)
            return report(pin.error(), kFailure);
        request.pin = std::move(*pin);
    }
    auto reply = call_expect<protocol::UnlockReply>(*client, protocol::Request(std::move(request)),
                                                    exit_code);
    if (!reply)
        return exit_code;
    std::cout << "token " << name
              << (reply->already_unlocked ? " was already unlocked" : " unlocked") << "\n";
    return kOk;
}

}  // namespace

void add_unlock_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<UnlockOptions>();
    auto* cmd = app.add_subcommand(
        "unlock", "Unlock a token with its PIN (one attempt; a wrong PIN is never retried)");
    cmd->add_option("--token", o->token, "PKCS#11 URI of the token (default: the only one)");
    cmd->add_option("--pin-source", o->pin_source,
                    std::string("Where the PIN comes from: ") + kSecretSourceHelp +
                        ", or pinentry (the agent asks in a dialog on the desktop)")
        ->check([](const std::string& s) {
            return s == kAgentPinentry || valid_secret_source(s)
                       ? std::string()
                       : "expected " + std::string(kSecretSourceHelp) + " or pinentry";
        });
    cmd->add_flag("--confirm-final-try", o->confirm_final_try,
                  "Allow the attempt when only one PIN try is left (a wrong PIN blocks the card)");
    cmd->callback([o, &exit_code] { exit_code = run_unlock(*o); });
}

void add_lock_command(CLI::App& app, int& exit_code) {
    auto token = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("lock", "Lock tokens: log out and forget the unlock");
    cmd->add_option("--token", *token, "PKCS#11 URI of the token (default: every token)");
    cmd->callback([token, &exit_code] {
        auto client = connect_agent();
        if (!client) {
            exit_code = kAgentNotRunning;
            return;
        }
        auto reply =
            call_expect<protocol::LockReply>(*client, protocol::LockRequest{*token}, exit_code);
        if (!reply)
            return;
        std::cout << "locked " << reply->locked << " token(s)\n";
        exit_code = kOk;
    });
}

}  // namespace attache::cli
