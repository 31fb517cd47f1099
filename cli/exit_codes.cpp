#include "cli/exit_codes.h"

namespace attache::cli {

const char* exit_code_meaning(int code) {
    switch (code) {
        case kOk:
            return "success";
        case kUsage:
            return "bad command line or request";
        case kAgentNotRunning:
            return "the agent is not running";
        case kTokenLocked:
            return "the card is locked: run `attache unlock`";
        case kWrongPin:
            return "the PIN was not accepted";
        case kPinBlocked:
            return "the PIN is blocked: an administrator must unblock it";
        case kKeyNotFound:
            return "no key or card matches, or several do";
        case kRefusedByToken:
            return "the card refused the operation";
        case kRefusedByPolicy:
            return "the agent's policy refused the operation";
        case kTokenAbsent:
            return "the card is not inserted";
        case kMismatch:
            return "the card does not match the inventory";
        case kFinalTry:
            return "one PIN try is left and the attempt was not confirmed";
        case kCancelled:
            return "cancelled";
        case kAmbiguousToken:
            return "several cards match";
        case kInventory:
            return "the inventory is not usable";
        case kCertificateRejected:
            return "the certificate was rejected";
        case kAuditChainBroken:
            return "the audit chain is broken";
        default:
            return "failed";
    }
}

}  // namespace attache::cli
