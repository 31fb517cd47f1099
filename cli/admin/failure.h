#pragma once

// How an admin command stops. pkcs11/ and the inventory return errors as values; at the command
// layer `check()` turns an Error into a CommandFailure carrying the exit code (cli/exit_codes.h)
// its CK_RV stands for. run_command() (output.h) catches it once per command, prints the message
// and sets the exit code. Messages never contain a PIN.

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "cli/exit_codes.h"
#include "pkcs11/result.h"

namespace attache::cli::admin {

class CommandFailure : public std::runtime_error {
  public:
    CommandFailure(int exit_code, const std::string& message)
        : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

  private:
    int exit_code_;
};

[[noreturn]] void fail(int exit_code, const std::string& message);

// The exit code a PKCS#11 error stands for (CKR_PIN_INCORRECT: kWrongPin, ...), else `fallback`.
int exit_code_for(const Error& error, int fallback = kFailure);

// Throws CommandFailure for `error`, with `context` prepended when not empty.
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
