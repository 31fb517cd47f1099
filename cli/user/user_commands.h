#pragma once

#include <CLI/CLI.hpp>

namespace attache::cli {

void add_status_command(CLI::App& app, int& exit_code);
void add_keys_command(CLI::App& app, int& exit_code);
void add_unlock_command(CLI::App& app, int& exit_code);
void add_lock_command(CLI::App& app, int& exit_code);
void add_sign_command(CLI::App& app, int& exit_code);
void add_decrypt_command(CLI::App& app, int& exit_code);
void add_pubkey_command(CLI::App& app, int& exit_code);
void add_ssh_env_command(CLI::App& app, int& exit_code);
void add_log_command(CLI::App& app, int& exit_code);

}  // namespace attache::cli
