#pragma once

// Ctrl-C during a card operation. A PKCS#11 call cannot be abandoned half-way, so the first
// SIGINT, SIGTERM or SIGHUP only asks the command to stop at its next safe point (between two
// card operations), where it undoes what it did and says what state the card is in. A second
// signal ends the process at once, with the default action.

#include <atomic>

namespace attache::cli::admin {

class InterruptGuard {
  public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

    bool requested() const;
};

}  // namespace attache::cli::admin
