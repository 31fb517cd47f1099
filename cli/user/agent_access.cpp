#include "cli/user/agent_access.h"

#include <algorithm>

#include "cli/card_errors.h"
#include "cli/exit_codes.h"
#include "pkcs11/bytes.h"
#include "pkcs11/uri.h"

namespace attache::cli {

using protocol::ErrorCode;

namespace {

// The message for an agent's error, in words. With a CK_RV behind it the agent's message names
// PKCS#11 calls, so the CLI says it itself; without one the agent's message is its own words.
std::string words_for(const protocol::ErrorReply& e, const std::string& card) {
    const std::string c = card.empty() ? "the card" : card;
    switch (e.code) {
        case ErrorCode::pin_incorrect:
            return "the PIN was not accepted by " + c + " (Attache never retries a PIN); " +
                   (e.token_flags &
                            (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)
                        ? pin_state_text(e.token_flags)
                        : std::string("run `attache unlock` again with the right PIN"));
        case ErrorCode::pin_locked:
            return "the PIN of " + c +
                   " is blocked: an administrator must unblock it (`attache pin unblock`)";
        case ErrorCode::token_locked:
            return c + " is locked: unlock it with `attache unlock`";
        case ErrorCode::token_absent:
            // The agent names the card that was pulled.
            if (e.ckr == 0 && !e.message.empty())
                return e.message;
            return c + " is not inserted: insert it and try again";
        case ErrorCode::final_try:
            return c +
                   " has one PIN try left: a wrong PIN blocks it. If you are sure of the PIN, "
                   "run `attache unlock --confirm-final-try`";
        case ErrorCode::cancelled:
            return "cancelled";
        case ErrorCode::busy:
            return "the agent is busy: try again in a moment";
        case ErrorCode::device_error:
            // Without a CK_RV the agent's message is its own words (a card that could not be
            // locked says to remove it).
            if (e.ckr == 0 && !e.message.empty())
                return e.message;
            return c + ": " + card_error_text(e.ckr != 0 ? e.ckr : CKR_DEVICE_ERROR);
        case ErrorCode::refused_by_token:
            return c + " refused the operation: " + card_error_text(e.ckr);
        case ErrorCode::unsupported_version:
            return "attache and the running agent are different versions: restart the agent";
        case ErrorCode::internal:
            return "the agent failed; its log says why";
        default:
            return e.ckr != 0 ? card_error_text(e.ckr) : e.message;
    }
}

// The keys `ref` names, by the first rule that matches any: (1) the key id or URI itself,
// (2) a PKCS#11 URI's object attributes, (3) the label, (4) a prefix of the key id.
std::vector<protocol::KeyEntry> matching_keys(std::vector<protocol::KeyEntry> keys,
                                              const std::string& ref) {
    auto pick = [&](auto&& match) {
        std::vector<protocol::KeyEntry> found;
        for (const auto& k : keys) {
            if (match(k))
                found.push_back(k);
        }
        return found;
    };
    auto exact = pick([&](const auto& k) { return k.id == ref || k.uri == ref; });
    if (!exact.empty())
        return exact;
    if (ref.starts_with("pkcs11:")) {
        auto uri = p11::Uri::parse(ref);
        if (!uri)
            throw CommandFailure(kUsage, "--key " + ref + " is not a valid PKCS#11 URI",
                                 uri.error().message());
        // Token attributes are checked by the agent when the URI is sent; here the object part
        // decides.
        return pick([&](const auto& k) {
            return (!uri->id() || *uri->id() == k.cka_id) &&
                   (!uri->object_label() || *uri->object_label() == k.label);
        });
    }
    auto labelled = pick([&](const auto& k) { return !ref.empty() && k.label == ref; });
    if (!labelled.empty())
        return labelled;
    return pick([&](const auto& k) { return !ref.empty() && k.id.starts_with(ref); });
}

}  // namespace

protocol::Client connect_agent() {
    auto endpoint = protocol::agent_endpoint();
    if (!endpoint)
        throw CommandFailure(kAgentNotRunning, endpoint.error().message());
    auto client = protocol::Client::connect(*endpoint, "attache");
    if (!client)
        throw CommandFailure(kAgentNotRunning, client.error().message());
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

std::string card_name(const std::string& label, const std::string& serial) {
    return "card '" + label + "' (serial " + serial + ")";
}

void fail_with(const protocol::ErrorReply& e, const std::string& card) {
    throw CommandFailure(exit_code_for(e.code), words_for(e, card),
                         "the agent said: " + e.message + " (" + protocol::name_of(e.code) + ")");
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

void add_key_option(CLI::App& command, std::string& key) {
    command
        .add_option("--key", key,
                    "The key: its id, its label or an unambiguous prefix of its id (as `attache "
                    "keys` shows them), or a PKCS#11 URI")
        ->required();
}

protocol::KeyEntry resolve_key(protocol::Client& client, const std::string& ref) {
    auto keys = call_agent<protocol::ListKeysReply>(client, protocol::ListKeysRequest{});
    auto found = matching_keys(std::move(keys.keys), ref);
    if (found.size() == 1)
        return std::move(found.front());
    if (found.empty()) {
        // The agent lists the keys of inserted cards only: a pulled card is the likely reason.
        auto status = call_agent<protocol::StatusReply>(client, protocol::StatusRequest{});
        for (const auto& t : status.tokens) {
            if (!t.present) {
                fail(kTokenAbsent, "no inserted card has a key '" + ref + "'; the " +
                                       card_name(t.label, t.serial) + " was removed: insert it");
            }
        }
        fail(kKeyNotFound, "no key matches '" + ref +
                               "': give a key id, a label or a PKCS#11 URI as `attache keys` "
                               "shows them (is your card inserted?)");
    }
    std::string names;
    nlohmann::json candidates = nlohmann::json::array();
    for (const auto& k : found) {
        names += "\n  " + k.id + "  " + (k.label.empty() ? "(no label)" : k.label) + "  on " +
                 card_name(k.token_label, k.token_serial);
        candidates.push_back({{"id", k.id}, {"label", k.label}, {"uri", k.uri}});
    }
    throw CommandFailure(kKeyNotFound,
                         "several keys match '" + ref + "'; name one by its key id:" + names, {},
                         {{"candidates", candidates}});
}

}  // namespace attache::cli
