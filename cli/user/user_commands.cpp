#include "cli/user/user_commands.h"

#include "cli/commands.h"

namespace attache::cli {

void add_user_commands(CLI::App& app, int& exit_code) {
    add_status_command(app, exit_code);
    add_keys_command(app, exit_code);
    add_unlock_command(app, exit_code);
    add_lock_command(app, exit_code);
    add_sign_command(app, exit_code);
    add_decrypt_command(app, exit_code);
    add_pubkey_command(app, exit_code);
    add_ssh_env_command(app, exit_code);
    add_log_command(app, exit_code);
}

}  // namespace attache::cli
