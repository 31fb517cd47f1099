#pragma once

// How an admin command stops. pkcs11/ and the inventory return errors as values; at the command
// layer `check()` turns an Error into a CommandFailure (cli/command_output.h) carrying the exit
// code (cli/exit_codes.h) its CK_RV stands for, a message in words and the CK_RV as detail.
// run_command() catches it once per command, prints it and sets the exit code. Messages never
// contain a PIN.

#include <string>
#include <string_view>
#include <utility>

#include "cli/command_output.h"
#include "cli/exit_codes.h"
#include "pkcs11/result.h"

namespace attache::cli::admin {

using cli::fail;

// The exit code a PKCS#11 error stands for (CKR_PIN_INCORRECT: kWrongPin, ...), else `fallback`.
int exit_code_for(const Error& error, int fallback = kFailure);

// Throws CommandFailure for `error`, with `context` prepended when not empty. An error with a
// CK_RV is said in words (cli/card_errors.h); its own message becomes the detail.
[[noreturn]] void fail(const Error& error, std::string_view context = {}, int fallback = kFailure);

template <typename T>
T check(Result<T> result, std::string_view context = {}, int fallback = kFailure) {
    if (!result)
        fail(result.error(), context, fallback);
    return std::move(result).value();
}

inline void check(Status status, std::string_view context = {}, int fallback = kFailure) {
    if (!status)
        fail(status.error(), context, fallback);
}

}  // namespace attache::cli::admin
