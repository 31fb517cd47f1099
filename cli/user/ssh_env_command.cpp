// attache ssh-env: the shell line that points OpenSSH at Attache's SSH agent socket.
//   eval "$(attache ssh-env)"

#include <unistd.h>

#include <cstdlib>

#include "cli/command_output.h"
#include "cli/exit_codes.h"
#include "cli/user/agent_access.h"
#include "cli/user/user_commands.h"

namespace attache::cli {
namespace {

std::string default_ssh_socket() {
    if (const char* d = std::getenv("XDG_RUNTIME_DIR"); d && *d) {
        return std::string(d) + "/attache/ssh.sock";
    }
    return "/run/user/" + std::to_string(getuid()) + "/attache/ssh.sock";
}

// Single-quotes a value for a POSIX, csh or fish shell.
std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

// The agent's SSH socket, or the default one when the agent is not running.
std::string ssh_socket() {
    // Managed mode: the broker's socket, whatever a relay may have put in the environment.
    auto managed = protocol::managed_ssh_socket();
    if (!managed)
        fail(kFailure, managed.error().message());
    if (*managed)
        return **managed;
    auto client = protocol::Client::connect(protocol::default_socket_path(), "attache");
    if (!client)
        return default_ssh_socket();
    auto status = client->call(protocol::StatusRequest{});
    if (!status)
        return default_ssh_socket();
    auto* s = std::get_if<protocol::StatusReply>(&*status);
    if (s == nullptr)
        return default_ssh_socket();
    if (s->ssh_socket.empty())
        fail(kFailure, "the agent's SSH socket is disabled (ssh_enabled = false)");
    return s->ssh_socket;
}

}  // namespace

void add_ssh_env_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand(
        "ssh-env",
        "Print the shell commands that make ssh use Attache: eval \"$(attache ssh-env)\"");
    auto csh = std::make_shared<bool>(false);
    auto fish = std::make_shared<bool>(false);
    auto json = std::make_shared<bool>(false);
    cmd->add_flag("-c,--csh", *csh, "csh/tcsh syntax");
    cmd->add_flag("--fish", *fish, "fish syntax");
    add_output_flags(*cmd, *json);
    cmd->callback([csh, fish, json, &exit_code] {
        run_command(*json, exit_code, [csh, fish] {
            const std::string path = ssh_socket();
            const std::string q = shell_quote(path);
            Report report{{{"ssh_auth_sock", path}}, {}};
            if (*csh) {
                report.text = "setenv SSH_AUTH_SOCK " + q + ";";
            } else if (*fish) {
                report.text = "set -gx SSH_AUTH_SOCK " + q + ";";
            } else {
                report.text = "SSH_AUTH_SOCK=" + q + "; export SSH_AUTH_SOCK;";
            }
            return report;
        });
    });
}

}  // namespace attache::cli
