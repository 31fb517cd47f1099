#pragma once

// What the PIN dialog says: the token's label and serial, who asked, and the warnings the
// token's flags call for. Pure functions, so tests check the words without a dialog.

#include <string>
#include <string_view>

#include "agent/core/user_prompt.h"

namespace attache::agent {

inline constexpr std::string_view kFewAttemptsLeft = "few attempts left";
inline constexpr std::string_view kLastAttempt = "LAST attempt \u2014 a wrong PIN blocks the card";

struct PromptTexts {
    std::string title;        // SETTITLE
    std::string description;  // SETDESC: which card, who asks, warnings ("\n" separates lines)
    std::string prompt;       // SETPROMPT
    std::string error;        // SETERROR: the last PIN was wrong, tries are few; empty: none
    bool confirm_final_try = false;   // CONFIRM before GETPIN
    std::string confirm_description;  // SETDESC for that CONFIRM
    std::string ok_label;             // SETOK for GETPIN
};

PromptTexts prompt_texts(const PinPromptRequest& request);

// Assuan's percent-escaping for a command argument: '%', CR, LF and other control bytes.
// Cuts the text (at a UTF-8 boundary) to `max_bytes` before escaping.
std::string assuan_escape(std::string_view text, size_t max_bytes = 700);

}  // namespace attache::agent
