#pragma once

// Each admin command registers itself; admin_commands.cpp calls these in order.

#include <CLI/CLI.hpp>

namespace attache::cli::admin {

void add_token_commands(CLI::App& app, int& exit_code);       // token list
void add_enrol_command(CLI::App& app, int& exit_code);        // enrol
void add_cert_commands(CLI::App& app, int& exit_code);        // cert import
void add_pin_commands(CLI::App& app, int& exit_code);         // pin status|change|unblock|change-so
void add_inventory_commands(CLI::App& app, int& exit_code);   // inventory list|show|...
void add_retire_command(CLI::App& app, int& exit_code);       // retire
void add_verify_card_command(CLI::App& app, int& exit_code);  // verify-card
void add_audit_commands(CLI::App& app, int& exit_code);       // audit verify|new-key

}  // namespace attache::cli::admin
