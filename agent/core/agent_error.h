#pragma once

// Errors the agent reports to clients: an attache::Error carrying a protocol::ErrorCode.

#include <string>

#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/result.h"

namespace attache::agent {

using protocol::ErrorCode;

inline Error agent_error(ErrorCode code, std::string message) {
    return Error(std::move(message)).with_code(static_cast<int>(code));
}

// The code an error travels with: its own, or one derived from its CK_RV.
ErrorCode error_code_of(const Error& error);

// True for the CK_RVs that mean the card went away.
bool means_token_gone(CK_RV rv);

}  // namespace attache::agent
