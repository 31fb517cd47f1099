// attache: the user's and the admin's command line.

#include <sys/prctl.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include "cli/command_output.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"

int main(int argc, char** argv) {
    // PINs pass through this process: no core dumps, no ptrace by other same-uid processes.
    prctl(PR_SET_DUMPABLE, 0);
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);

    CLI::App app{
        "attache: use and enrol the keys on your smartcard or token.\n"
        "User commands talk to attache-agent; admin commands talk to the token directly.",
        "attache"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "attache 0.1.0");
    int exit_code = attache::cli::kOk;
    attache::cli::add_user_commands(app, exit_code);
    attache::cli::add_admin_commands(app, exit_code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; every command-line error exits kUsage (2), with the
        // JSON failure object on standard output when --json was asked for.
        if (app.exit(e) == 0)
            return attache::cli::kOk;
        return attache::cli::report_usage_error(argc, argv, e.what());
    }
    return exit_code;
}
