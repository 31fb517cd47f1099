#pragma once

// Where a forked agent writes its log when there is no journal: $XDG_STATE_HOME/attache/agent.log
// (default ~/.local/state/attache/agent.log). The directory is the user's alone (0700, not a
// symbolic link: the checks of the runtime directory, agent/server/socket_dir.h); the file is
// opened 0600 for appending and refused when it is a symbolic link or not the user's.

#include <filesystem>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/result.h"

namespace attache::agent {

// $XDG_STATE_HOME/attache/agent.log, else $HOME/.local/state/attache/agent.log.
Result<std::filesystem::path> default_log_file();

// Creates the missing directories (0700) and opens the file for appending.
Result<UniqueFd> open_log_file(const std::filesystem::path& path);

}  // namespace attache::agent
