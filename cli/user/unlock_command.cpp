// attache unlock / attache lock.
//
// unlock checks the token's PIN state before asking for a PIN: a blocked PIN is reported
// without a prompt, and the last try needs --confirm-final-try. The agent enforces both again,
// and spends a last try only when the user also confirms it in the agent's own dialog.
// With --pin-source pinentry the agent itself asks, through pinentry on the desktop: the PIN
// then never passes through this process or the terminal, and the dialog asks to confirm
// the last try.

#include <cstring>

#include "cli/command_output.h"
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
    bool json = false;
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
protocol::TokenStatus pick_token(protocol::Client& client, const std::string& ref) {
    auto status = call_agent<protocol::StatusReply>(client, protocol::StatusRequest{});
    std::optional<p11::Uri> uri;
    if (!ref.empty()) {
        auto parsed = p11::Uri::parse(ref);
        if (!parsed)
            throw CommandFailure(kUsage, "--token " + ref + " is not a valid PKCS#11 URI",
                                 parsed.error().message());
        uri = std::move(*parsed);
    }
    std::vector<protocol::TokenStatus> found;
    for (auto& t : status.tokens) {
        if (t.present && (!uri || status_matches(*uri, t)))
            found.push_back(std::move(t));
    }
    if (found.empty()) {
        // Managed mode: the broker shows each user only the cards the manifest gives them.
        auto managed = protocol::managed_mode();
        const std::string yours =
            managed && *managed ? " of yours (by this workstation's card manifest: a card that "
                                  "is not listed for you, marked lost or not the enrolled card "
                                  "is not shown; ask your administrator)"
                                : "";
        fail(ref.empty() ? kTokenAbsent : kKeyNotFound,
             ref.empty() ? "no card" + yours + " is present: insert your card"
                         : "no card" + yours + " present matches " + ref +
                               " (`attache status` lists them)");
    }
    if (found.size() > 1) {
        std::string names;
        for (const auto& t : found)
            names += "\n  " + t.uri;
        fail(kKeyNotFound, "several cards are present; choose one with --token:" + names);
    }
    return std::move(found.front());
}

Report unlocked(const protocol::TokenStatus& token, const std::string& name, bool already) {
    return Report{{{"token", token.uri},
                   {"label", token.label},
                   {"serial", token.serial},
                   {"already_unlocked", already}},
                  name + (already ? " was already unlocked" : " unlocked")};
}

Report run_unlock(const UnlockOptions& o) {
    auto client = connect_agent();
    const protocol::TokenStatus token = pick_token(client, o.token);
    const std::string name = card_name(token.label, token.serial);
    if (token.unlocked)
        return unlocked(token, name, true);
    if (token.flags & CKF_USER_PIN_LOCKED) {
        fail(kPinBlocked, "the PIN of " + name +
                              " is blocked: an administrator must unblock it (`attache pin "
                              "unblock`)");
    }
    const bool agent_asks = o.pin_source == kAgentPinentry;
    if ((token.flags & CKF_USER_PIN_FINAL_TRY) && !o.confirm_final_try && !agent_asks) {
        fail(kFinalTry,
             name +
                 " has ONE PIN try left: a wrong PIN blocks the card. If you are "
                 "sure of the PIN, run again with --confirm-final-try (the agent then asks you "
                 "to confirm in its dialog)");
    }
    protocol::UnlockRequest request;
    request.token = token.uri;
    request.confirm_final_try = o.confirm_final_try;
    if (token.flags & CKF_PROTECTED_AUTHENTICATION_PATH) {
        note("Enter the PIN on the reader's PIN pad for " + name);
    } else if (agent_asks) {
        note("The agent asks for the PIN of " + name + " in a pinentry dialog");
    } else {
        std::string prompt = "PIN for " + name;
        if (token.flags & CKF_USER_PIN_COUNT_LOW)
            prompt += " (few tries left)";
        auto pin = read_secret(o.pin_source, prompt + ": ");
        if (!pin)
            fail(kFailure, pin.error().message());
        request.pin = std::move(*pin);
    }
    auto reply =
        call_agent<protocol::UnlockReply>(client, protocol::Request(std::move(request)), name);
    return unlocked(token, name, reply.already_unlocked);
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
                  "Ask to spend the last PIN try: the agent then asks you to confirm it in its own "
                  "dialog (a wrong PIN blocks the card)");
    add_output_flags(*cmd, o->json);
    cmd->callback(
        [o, &exit_code] { run_command(o->json, exit_code, [o] { return run_unlock(*o); }); });
}

void add_lock_command(CLI::App& app, int& exit_code) {
    auto token = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("lock", "Lock tokens: log out and forget the unlock");
    cmd->add_option("--token", *token, "PKCS#11 URI of the token (default: every token)");
    add_output_flags(*cmd, *json);
    cmd->callback([token, json, &exit_code] {
        run_command(*json, exit_code, [token] {
            auto client = connect_agent();
            auto reply = call_agent<protocol::LockReply>(client, protocol::LockRequest{*token});
            return Report{{{"locked", reply.locked}},
                          "locked " + std::to_string(reply.locked) + " token(s)"};
        });
    });
}

}  // namespace attache::cli
