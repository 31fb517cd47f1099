#pragma once

// From `--module` and `--token URI` to exactly one token. No token matching: kKeyNotFound (or
// kTokenAbsent when no slot holds a token at all); several: kAmbiguousToken, naming each.

#include <p11-kit/pkcs11.h>

#include <string>
#include <vector>

#include "pkcs11/module.h"
#include "pkcs11/token_info.h"

namespace attache::cli::admin {

struct TokenCandidate {
    CK_SLOT_ID slot = 0;
    p11::TokenInfo info;
    std::string uri;  // canonical token URI
};

struct SelectedToken {
    p11::Module module;
    CK_SLOT_ID slot = 0;
    p11::TokenInfo info;
    std::string uri;

    // Reads CK_TOKEN_INFO again (flags and label change with logins and initialisation).
    const p11::TokenInfo& refresh();
    // "label (serial S, model M)" for messages.
    std::string describe() const;
};

// Loads the module; throws CommandFailure when it cannot.
p11::Module load_module(const std::string& module_spec);

// Every slot with a token that `uri_text` matches (an empty text matches every token).
std::vector<TokenCandidate> matching_tokens(const p11::Module& module, const std::string& uri_text);

// Exactly one token, or a CommandFailure.
SelectedToken select_token(const std::string& module_spec, const std::string& uri_text);

}  // namespace attache::cli::admin
