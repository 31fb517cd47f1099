#pragma once

// How the agent asks the user: for a token's PIN, and to confirm one use of a key. The core
// calls a UserPrompt; the agent's is pinentry over Assuan (agent/pinentry/), tests script
// their own. Core code never sees the prompt's machinery, and never keeps the PIN it returns
// beyond one C_Login.

#include <p11-kit/pkcs11.h>

#include <functional>
#include <mutex>
#include <string>

#include "pkcs11/result.h"
#include "pkcs11/secret.h"

namespace attache::agent {

struct PinPromptRequest {
    std::string token_label;
    std::string token_serial;
    CK_FLAGS flags = 0;               // fresh token flags (COUNT_LOW, FINAL_TRY)
    bool last_attempt_wrong = false;  // the previous PIN tried on this token was wrong
    std::string requester;            // the program whose request needs the token, if known
    bool remote_session = false;      // the requester is in a remote login session
    // A PIN for one operation only (CKA_ALWAYS_AUTHENTICATE keys: C_Login CKU_CONTEXT_SPECIFIC);
    // never cached. `operation` says which ("a signature with key 'X'").
    bool context_specific = false;
    std::string operation;
};

struct PinPromptAnswer {
    Secret pin;
    // The user confirmed, in the dialog, spending the token's last PIN try.
    bool final_try_confirmed = false;
};

// Lets another thread end a prompt in progress: a lock, the card's removal, a timeout.
class PromptCancel {
  public:
    // A new prompt begins: forgets an earlier cancel.
    void arm();
    // The prompter says how to end its prompt (for pinentry: signal the child). Returns false,
    // without keeping `fn`, when the prompt was already cancelled.
    bool set_canceller(std::function<void()> fn);
    // The prompt is over; cancel() no longer reaches it.
    void clear_canceller();
    void cancel();
    bool cancelled() const;

  private:
    mutable std::mutex mutex_;
    std::function<void()> canceller_;
    bool cancelled_ = false;
};

// A question to the user about one use of a key: allow it or not. Every line is a fact the
// agent checked itself (see agent/core/broker/confirmation_text.h); nothing a client wrote.
struct ConfirmRequest {
    std::string title;        // "Allow a signature with your card?"
    std::string description;  // the facts, one per line
    std::string ok = "Allow";
    std::string cancel = "Deny";
};

enum class ConfirmAnswer { allowed, denied, timed_out };

class UserPrompt {
  public:
    virtual ~UserPrompt() = default;
    // Blocks until the user answers. Fails with ErrorCode::cancelled when the user cancelled,
    // declined the final try, entered nothing, or `cancel` ended the prompt; with
    // ErrorCode::token_locked when no prompt could be shown.
    virtual Result<PinPromptAnswer> ask_pin(const PinPromptRequest& request,
                                            PromptCancel& cancel) = 0;
    // Blocks until the user answers (pinentry CONFIRM). Fails when no dialog could be shown
    // (ErrorCode::refused_by_policy: a use that needs confirming is refused without one), or
    // with ErrorCode::cancelled when `cancel` ended it.
    virtual Result<ConfirmAnswer> confirm(const ConfirmRequest& request, PromptCancel& cancel) = 0;
};

}  // namespace attache::agent
