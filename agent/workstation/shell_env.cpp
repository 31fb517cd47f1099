#include "agent/workstation/shell_env.h"

#include <string_view>

namespace attache::agent {
namespace {

bool plain(std::string_view v) {
    if (v.empty())
        return false;
    for (unsigned char c : v) {
        const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') ||
                          std::string_view("/._+,:@-").find(c) != std::string_view::npos;
        if (!safe)
            return false;
    }
    return true;
}

// Single quotes in each syntax: sh and csh end the quote for a quote character ('\''), csh
// also for '!' (history substitution works inside its quotes); fish escapes \ and '.
std::string quote(ShellSyntax syntax, std::string_view v) {
    if (plain(v))
        return std::string(v);
    std::string out = "'";
    for (char c : v) {
        if (syntax == ShellSyntax::fish && (c == '\\' || c == '\'')) {
            out += '\\';
            out += c;
        } else if (syntax != ShellSyntax::fish && c == '\'') {
            out += "'\\''";
        } else if (syntax == ShellSyntax::csh && c == '!') {
            out += "'\\!'";
        } else {
            out += c;
        }
    }
    return out + "'";
}

Result<std::string> set_line(ShellSyntax syntax, const std::string& name,
                             const std::string& value) {
    for (unsigned char c : value) {
        if (c < ' ' || c == 0x7f)
            return Error(name + " (" + value + ") contains a control character");
    }
    const std::string v = quote(syntax, value);
    switch (syntax) {
        case ShellSyntax::sh:
            return name + "=" + v + "; export " + name + ";\n";
        case ShellSyntax::csh:
            return "setenv " + name + " " + v + ";\n";
        case ShellSyntax::fish:
            return "set -gx " + name + " " + v + ";\n";
    }
    return Error("unknown shell syntax");
}

std::string unset_line(ShellSyntax syntax, const std::string& name) {
    switch (syntax) {
        case ShellSyntax::sh:
            return "unset " + name + ";\n";
        case ShellSyntax::csh:
            return "unsetenv " + name + ";\n";
        case ShellSyntax::fish:
            return "set -e " + name + ";\n";
    }
    return {};
}

}  // namespace

Result<std::string> export_commands(ShellSyntax syntax, const AgentEnvironment& env) {
    ATTACHE_TRY(std::string out, set_line(syntax, "ATTACHE_SOCK", env.attache_sock));
    if (!env.ssh_auth_sock.empty()) {
        ATTACHE_TRY(std::string ssh, set_line(syntax, "SSH_AUTH_SOCK", env.ssh_auth_sock));
        out += ssh;
    }
    return out + "echo Agent pid " + std::to_string(env.pid) + ";\n";
}

std::string unset_commands(ShellSyntax syntax, bool unset_ssh_auth_sock, pid_t pid) {
    std::string out = unset_line(syntax, "ATTACHE_SOCK");
    if (unset_ssh_auth_sock)
        out += unset_line(syntax, "SSH_AUTH_SOCK");
    return out + "echo Agent pid " + std::to_string(pid) + " killed;\n";
}

}  // namespace attache::agent
