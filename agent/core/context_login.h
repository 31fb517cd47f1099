#pragma once

// PIN-per-operation keys (CKA_ALWAYS_AUTHENTICATE, e.g. a PIV card's 9C digital-signature key):
// after C_SignInit / C_DecryptInit the token wants C_Login(CKU_CONTEXT_SPECIFIC) with the PIN,
// for that one operation. The PIN comes with the request (an application's own
// C_Login(CKU_CONTEXT_SPECIFIC) through attache-pkcs11.so) or is asked through the UserPrompt;
// either way it is used for that one C_Login and dropped: never cached, never retried.

#include <string>

#include "agent/core/key_record.h"
#include "agent/core/user_prompt.h"
#include "pkcs11/operations.h"
#include "pkcs11/session.h"
#include "pkcs11/token_info.h"

namespace attache::agent {

// Who answers the PIN a CKA_ALWAYS_AUTHENTICATE key asks before each use.
struct OperationPrompt {
    UserPrompt* prompter = nullptr;  // null: such keys are refused (nothing can ask)
    std::string requester;           // the program asking, shown in the dialog
    // The client's PIN for this one operation; used instead of asking. Not owned.
    const Secret* pin = nullptr;
};

// The hook for p11::sign / p11::decrypt: empty for ordinary keys. `operation` says what the PIN
// is for ("a signature"); `token` gives the label, serial and fresh retry-counter flags.
p11::ContextLogin context_login(p11::Session& session, const KeyRecord& key,
                                const p11::TokenInfo& token, const OperationPrompt& prompt,
                                const std::string& operation);

}  // namespace attache::agent
