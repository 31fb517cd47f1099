#pragma once

// The lines `eval "$(attache-agent)"` runs, as ssh-agent prints them: the variables that name
// the agent's sockets, in the syntax of the user's shell.

#include <sys/types.h>

#include <string>

#include "pkcs11/result.h"

namespace attache::agent {

enum class ShellSyntax { sh, csh, fish };

struct AgentEnvironment {
    std::string attache_sock;
    std::string ssh_auth_sock;  // empty: the SSH socket is not served
    pid_t pid = 0;
};

// "ATTACHE_SOCK=...; export ATTACHE_SOCK;" (and SSH_AUTH_SOCK), then "echo Agent pid N;".
// Values are quoted for the shell when they need it; a value with a control character is
// refused (no shell quotes it on one line).
Result<std::string> export_commands(ShellSyntax syntax, const AgentEnvironment& env);

// What `attache-agent -k` prints: unsets ATTACHE_SOCK (and SSH_AUTH_SOCK when
// `unset_ssh_auth_sock`), then "echo Agent pid N killed;".
std::string unset_commands(ShellSyntax syntax, bool unset_ssh_auth_sock, pid_t pid);

}  // namespace attache::agent
