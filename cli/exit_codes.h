#pragma once

// Exit codes of `attache`: stable, documented in docs/user-guide.md. Scripts may rely on them.

namespace attache::cli {

enum ExitCode : int {
    kOk = 0,
    kFailure = 1,          // anything not listed below
    kUsage = 2,            // bad command line (CLI11's own code)
    kAgentNotRunning = 3,  // no agent on the socket
    kTokenLocked = 4,      // the token needs `attache unlock`
    kWrongPin = 5,         // the PIN was incorrect (never retried)
    kPinBlocked = 6,       // the PIN is blocked; an admin must unblock it
    kKeyNotFound = 7,      // no key (or token) matches
    kRefusedByToken = 8,   // the token refused the operation (mechanism, usage)
    kRefusedByPolicy = 9,  // the agent's policy refused it
    kTokenAbsent = 10,     // the card is not inserted
    kMismatch = 11,        // verify-card: the card does not match the inventory
    kFinalTry = 12,        // unlock refused: last PIN try, not confirmed
    kCancelled = 13,       // the user cancelled (prompt, confirmation)
    kAmbiguousToken = 14,  // the token URI matches several tokens
    kInventory = 15,       // the inventory is not usable (not Attache's, newer schema, no record)
    kCertificateRejected = 16,  // cert import: another key's, expired, or wrong key usage
    kAuditChainBroken = 17,     // audit verify: a record is missing, altered, reordered, foreign
};

// One line saying what a code means (the table of docs/user-guide.md).
const char* exit_code_meaning(int code);

}  // namespace attache::cli
