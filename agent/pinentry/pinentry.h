#pragma once

// The agent's PIN prompt: the standard pinentry program, spoken to over Assuan with
// libassuan. One dialog at a time. The PIN comes back into a Secret; libassuan's own buffers
// are wiped when freed (the context gets wiping allocation hooks).
//
// pinentry's external password cache stays off: the agent never sends SETKEYINFO (without a
// cache key pinentry neither reads nor offers to store the PIN) and never sends
// OPTION allow-external-password-cache. A PIN never lands in a keyring.

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "agent/core/user_prompt.h"

namespace attache::agent {

struct PinentryOptions {
    // The program: a path, or a name looked up in PATH ("pinentry": Debian's alternative,
    // which points at the desktop's variant).
    std::string program = "pinentry";
    // pinentry closes its dialog after this long (SETTIMEOUT); the agent ends it `grace`
    // later if it has not (a pinentry that ignores SETTIMEOUT, or hangs).
    std::chrono::seconds timeout{120};
    std::chrono::seconds grace{10};
    // Variables to set in pinentry's environment on top of the agent's own (DISPLAY,
    // WAYLAND_DISPLAY, ... of the current graphical session); called before each prompt.
    std::function<std::vector<std::string>()> session_environment;
};

class PinentryPrompter : public UserPrompt {
  public:
    explicit PinentryPrompter(PinentryOptions options) : options_(std::move(options)) {}

    Result<PinPromptAnswer> ask_pin(const PinPromptRequest& request, PromptCancel& cancel) override;
    Result<ConfirmAnswer> confirm(const ConfirmRequest& request, PromptCancel& cancel) override;

  private:
    PinentryOptions options_;
    std::mutex dialog_mutex_;  // one dialog at a time
};

// `program` itself when it contains a '/', else the first executable `program` in PATH.
Result<std::string> find_program(const std::string& program);

// The environment pinentry runs with: the agent's, without what belongs to the agent alone
// (socket activation and notification variables), with `overrides` (NAME=VALUE) applied.
std::vector<std::string> pinentry_environment(char** base,
                                              const std::vector<std::string>& overrides);

}  // namespace attache::agent
