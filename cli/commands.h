#pragma once

// Each group of `attache` subcommands registers itself on the application. A subcommand's
// callback stores its exit code (cli/exit_codes.h) in `exit_code`.

#include <CLI/CLI.hpp>

namespace attache::cli {

// status, keys, unlock, lock, sign, decrypt, pubkey, ssh-env: talk to the agent.
void add_user_commands(CLI::App& app, int& exit_code);
// token list, enrol, cert import, pin, inventory, retire, verify-card: talk to the token.
void add_admin_commands(CLI::App& app, int& exit_code);

}  // namespace attache::cli
