#include "agent/pinentry/prompt_text.h"

#include <cstdio>

namespace attache::agent {
namespace {

// Labels and serials come from the card: printable ASCII and UTF-8 pass, control bytes
// become spaces, so a card cannot lay out the dialog.
std::string printable(std::string_view s) {
    std::string out;
    for (unsigned char c : s)
        out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

// The requester is a path from /proc; keep it short enough for one dialog line.
constexpr size_t kMaxRequester = 200;

}  // namespace

PromptTexts prompt_texts(const PinPromptRequest& r) {
    PromptTexts t;
    t.title = "Attache: unlock your card";
    const std::string card =
        "'" + printable(r.token_label) + "' (serial " + printable(r.token_serial) + ")";
    if (r.context_specific) {
        // A PIN-per-use key: this PIN serves one operation and is not kept.
        t.title = "Attache: PIN for one use of your card";
        t.description = "Enter the PIN of the card " + card + " for " + printable(r.operation) +
                        " (this key asks for its PIN every time).";
    } else {
        t.description = "Enter the PIN of the card " + card + ".";
    }
    if (!r.requester.empty()) {
        std::string who = printable(r.requester);
        if (who.size() > kMaxRequester)
            who = "..." + who.substr(who.size() - kMaxRequester);
        t.description += "\nRequested by " + who + ".";
    }
    if (r.remote_session) {
        t.description +=
            "\nWARNING: the request comes from a REMOTE session (someone logged in over the "
            "network), not from this screen. Enter the PIN only if you started it.";
    }
    if (r.context_specific && !r.operation.empty())
        t.description += "\nThis PIN is for one operation only: " + printable(r.operation) + ".";
    t.prompt = "PIN:";
    t.ok_label = r.context_specific ? "OK" : "Unlock";

    const bool final_try = (r.flags & CKF_USER_PIN_FINAL_TRY) != 0;
    const bool count_low = (r.flags & CKF_USER_PIN_COUNT_LOW) != 0;
    std::string warning;
    if (final_try) {
        warning = std::string(kLastAttempt) + ".";
    } else if (count_low) {
        warning = "Careful: " + std::string(kFewAttemptsLeft) + " before the card is blocked.";
    }
    if (!warning.empty())
        t.description += "\n\n" + warning;
    if (r.last_attempt_wrong) {
        t.error = "The last PIN entered was wrong";
        if (final_try)
            t.error += ": " + std::string(kLastAttempt);
        else if (count_low)
            t.error += ": " + std::string(kFewAttemptsLeft);
    }
    if (final_try) {
        t.confirm_final_try = true;
        t.confirm_description = "The card " + card + " has ONE PIN attempt left.\n" +
                                std::string(kLastAttempt) +
                                ", and only an administrator can unblock it.\n\n"
                                "Continue only if you are sure of the PIN.";
    }
    return t;
}

std::string assuan_escape(std::string_view text, size_t max_bytes) {
    if (text.size() > max_bytes) {
        size_t cut = max_bytes;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80)
            --cut;  // do not split a UTF-8 sequence
        text = text.substr(0, cut);
    }
    std::string out;
    for (unsigned char c : text) {
        if (c == '%' || c < 0x20 || c == 0x7f) {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace attache::agent
