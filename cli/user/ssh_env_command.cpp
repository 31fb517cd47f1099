// attache ssh-env: the shell line that points OpenSSH at Attache's SSH agent socket.
//   eval "$(attache ssh-env)"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

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

}  // namespace

void add_ssh_env_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand(
        "ssh-env",
        "Print the shell commands that make ssh use Attache: eval \"$(attache ssh-env)\"");
    auto csh = std::make_shared<bool>(false);
    auto fish = std::make_shared<bool>(false);
    cmd->add_flag("-c,--csh", *csh, "csh/tcsh syntax");
    cmd->add_flag("--fish", *fish, "fish syntax");
    cmd->callback([csh, fish, &exit_code] {
        std::string path = default_ssh_socket();
        auto client = protocol::Client::connect(protocol::default_socket_path(), "attache");
        if (client) {
            auto status = client->call(protocol::StatusRequest{});
            if (status) {
                if (auto* s = std::get_if<protocol::StatusReply>(&*status)) {
                    if (s->ssh_socket.empty()) {
                        exit_code = report(Error("the agent's SSH socket is disabled "
                                                 "(ssh_enabled = false)"),
                                           kFailure);
                        return;
                    }
                    path = s->ssh_socket;
                }
            }
        }
        const std::string q = shell_quote(path);
        if (*csh) {
            std::cout << "setenv SSH_AUTH_SOCK " << q << ";\n";
        } else if (*fish) {
            std::cout << "set -gx SSH_AUTH_SOCK " << q << ";\n";
        } else {
            std::cout << "SSH_AUTH_SOCK=" << q << "; export SSH_AUTH_SOCK;\n";
        }
        exit_code = kOk;
    });
}

}  // namespace attache::cli
