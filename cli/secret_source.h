#pragma once

// Where a PIN comes from: never the command line.
//   prompt     the terminal (/dev/tty), echo off
//   fd:N       the first line read from file descriptor N
//   file:PATH  the first line of a file
//   env:NAME   an environment variable (removed from the environment once read)

#include <string>
#include <string_view>

#include "pkcs11/result.h"
#include "pkcs11/secret.h"

namespace attache::cli {

inline constexpr const char* kSecretSourceHelp = "prompt | fd:N | file:PATH | env:NAME";

// Checks the syntax of a source without reading it (for CLI11 validators).
bool valid_secret_source(std::string_view source);

// Reads the secret; `prompt` is shown on the terminal for the "prompt" source.
Result<Secret> read_secret(std::string_view source, std::string_view prompt);

}  // namespace attache::cli
