#pragma once

// The options every admin command shares, declared once so their names and help agree.

#include <CLI/CLI.hpp>

#include <string>

#include "pkcs11/module.h"

namespace attache::cli::admin {

inline constexpr const char* kDefaultInventory = "/var/lib/attache/inventory.db";

// --module PATH (default: p11-kit's proxy).
void add_module_option(CLI::App& command, std::string& module);
// --token URI; `required` for every command that changes or checks one token.
void add_token_option(CLI::App& command, std::string& token, bool required);
// --inventory PATH (default /var/lib/attache/inventory.db).
void add_inventory_option(CLI::App& command, std::string& path);
// --pin-source, --so-pin-source, --new-pin-source: prompt|fd:N|file:PATH|env:NAME, never the
// secret itself. Default: prompt.
void add_secret_source_option(CLI::App& command, const std::string& flag, std::string& source,
                              const std::string& what);
// The same for a secret that is only read when the option is given (`source` stays empty).
CLI::Option* add_optional_secret_source_option(CLI::App& command, const std::string& flag,
                                               std::string& source, const std::string& what);

}  // namespace attache::cli::admin
