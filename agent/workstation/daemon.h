#pragma once

// Going into the background as ssh-agent does, so that `eval "$(attache-agent)"` returns as
// soon as the agent serves:
//
//   fork; the child calls setsid() and forks again (the agent is no session leader, so no
//   terminal it opens becomes its controlling terminal); standard input becomes /dev/null,
//   standard output and error the log (a journal stream, or the log file of log_file.h); the
//   log goes to the journal when one runs (journal_available()), else to that file.
//
// The first parent waits on a pipe until the agent is ready or gone. Meanwhile the agent's
// warnings and errors also travel through the pipe, and the parent prints them on its standard
// error: a start that fails still says why on the terminal. Once ready, the agent sends the
// shell commands to print (shell_env.h), and the parent prints them and exits 0; when the agent
// exits before that, the parent exits 1. Nothing of the agent keeps the caller's output open.

#include <string>

#include "pkcs11/result.h"

namespace attache::agent {

class StartupReport {
  public:
    // Ends the parent's wait: it prints `shell_commands` on its standard output and exits 0.
    // From now on warnings and errors go to the log only.
    void ready(const std::string& shell_commands);
    // Where the log went ("the journal", or the log file's path), for the agent's first line.
    const std::string& log_destination() const { return log_destination_; }

  private:
    friend Result<StartupReport> go_to_background();
    int fd_ = -1;
    std::string log_destination_;
};

// Returns in the agent only; the caller's process exits inside (never returns there). An error:
// the log could not be opened (the parent already shows it).
Result<StartupReport> go_to_background();

}  // namespace attache::agent
