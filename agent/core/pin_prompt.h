#pragma once

// How the agent asks the user for a token's PIN. Tokens call a PinPrompter; the agent's is
// pinentry over Assuan (agent/pinentry/), tests may use their own. Core code never sees the
// prompt's machinery, and never keeps the PIN it returns beyond one C_Login.

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

class PinPrompter {
  public:
    virtual ~PinPrompter() = default;
    // Blocks until the user answers. Fails with ErrorCode::cancelled when the user cancelled,
    // declined the final try, entered nothing, or `cancel` ended the prompt; with
    // ErrorCode::token_locked when no prompt could be shown.
    virtual Result<PinPromptAnswer> ask(const PinPromptRequest& request, PromptCancel& cancel) = 0;
};

}  // namespace attache::agent
