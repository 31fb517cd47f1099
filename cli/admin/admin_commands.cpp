// The admin commands: they talk to the token directly through pkcs11/, not through the agent.

#include "cli/admin/registration.h"
#include "cli/commands.h"

namespace attache::cli {

void add_admin_commands(CLI::App& app, int& exit_code) {
    admin::add_token_commands(app, exit_code);
    admin::add_enrol_command(app, exit_code);
    admin::add_cert_commands(app, exit_code);
    admin::add_pin_commands(app, exit_code);
    admin::add_inventory_commands(app, exit_code);
    admin::add_retire_command(app, exit_code);
    admin::add_verify_card_command(app, exit_code);
    admin::add_audit_commands(app, exit_code);
}

}  // namespace attache::cli
