// The commands `attache-agent` prints for sh, csh and fish: exact for ordinary paths, and values
// that need quoting come back unchanged when each shell runs them.

#include <gtest/gtest.h>

#include "agent/workstation/shell_env.h"
#include "tests/support/command.h"

namespace attache::testing {
namespace {

using agent::AgentEnvironment;
using agent::ShellSyntax;

bool have(const std::string& program) {
    return run_command({"sh", "-c", "command -v " + program}).exit_code == 0;
}

TEST(ShellEnv, EachSyntaxExactly) {
    const AgentEnvironment env{"/run/user/1000/attache/agent.sock",
                               "/run/user/1000/attache/ssh.sock", 4242};
    EXPECT_EQ(agent::export_commands(ShellSyntax::sh, env).value(),
              "ATTACHE_SOCK=/run/user/1000/attache/agent.sock; export ATTACHE_SOCK;\n"
              "SSH_AUTH_SOCK=/run/user/1000/attache/ssh.sock; export SSH_AUTH_SOCK;\n"
              "echo Agent pid 4242;\n");
    EXPECT_EQ(agent::export_commands(ShellSyntax::csh, env).value(),
              "setenv ATTACHE_SOCK /run/user/1000/attache/agent.sock;\n"
              "setenv SSH_AUTH_SOCK /run/user/1000/attache/ssh.sock;\n"
              "echo Agent pid 4242;\n");
    EXPECT_EQ(agent::export_commands(ShellSyntax::fish, env).value(),
              "set -gx ATTACHE_SOCK /run/user/1000/attache/agent.sock;\n"
              "set -gx SSH_AUTH_SOCK /run/user/1000/attache/ssh.sock;\n"
              "echo Agent pid 4242;\n");
    EXPECT_EQ(agent::unset_commands(ShellSyntax::sh, true, 7),
              "unset ATTACHE_SOCK;\nunset SSH_AUTH_SOCK;\necho Agent pid 7 killed;\n");
    EXPECT_EQ(agent::unset_commands(ShellSyntax::csh, false, 7),
              "unsetenv ATTACHE_SOCK;\necho Agent pid 7 killed;\n");
    EXPECT_EQ(agent::unset_commands(ShellSyntax::fish, true, 7),
              "set -e ATTACHE_SOCK;\nset -e SSH_AUTH_SOCK;\necho Agent pid 7 killed;\n");
}

TEST(ShellEnv, NoSshSocketNoSshAuthSock) {
    auto out = agent::export_commands(ShellSyntax::sh, {"/a.sock", "", 1});
    EXPECT_EQ(out.value(), "ATTACHE_SOCK=/a.sock; export ATTACHE_SOCK;\necho Agent pid 1;\n");
}

TEST(ShellEnv, ControlCharactersAreRefused) {
    EXPECT_FALSE(agent::export_commands(ShellSyntax::sh, {"/a\nb.sock", "", 1}));
    EXPECT_FALSE(agent::export_commands(ShellSyntax::fish, {"/a.sock", "/b\x1b.sock", 1}));
}

TEST(ShellEnv, QuotedValuesSurviveEachShell) {
    const std::string odd = "/tmp/it's a \"dir\" $HOME `x` \\ ! ;&|*?/agent.sock";
    struct Shell {
        const char* program;
        ShellSyntax syntax;
        std::string print;
    } shells[] = {
        {"sh", ShellSyntax::sh, "printf '%s' \"$ATTACHE_SOCK\""},
        {"tcsh", ShellSyntax::csh, "printf '%s' \"$ATTACHE_SOCK:q\""},
        {"fish", ShellSyntax::fish, "printf '%s' \"$ATTACHE_SOCK\""},
    };
    for (const auto& shell : shells) {
        if (!have(shell.program)) {
            ADD_FAILURE() << shell.program << " is not installed (scripts/install-deps.sh)";
            continue;
        }
        auto commands = agent::export_commands(shell.syntax, {odd, "", 1});
        ASSERT_TRUE(commands) << commands.error().message();
        // Without the echo line: only the variable is printed.
        std::string set = commands->substr(0, commands->find("echo Agent"));
        auto r = run_command({shell.program, "-c", set + shell.print});
        EXPECT_EQ(r.out, odd) << shell.program << ": " << set << describe(r);
    }
}

}  // namespace
}  // namespace attache::testing
