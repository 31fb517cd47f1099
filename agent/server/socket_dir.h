#pragma once

// The agent's runtime directory and its listening sockets.
//
// The directory ($XDG_RUNTIME_DIR/attache) must be a real directory (not a symlink) owned by
// the user and not writable by anyone else; it is created 0700. Sockets are created 0600
// under umask 0177. An flock on "<socket>.lock" held for the agent's lifetime makes a second
// agent on the same socket refuse to start; a socket left by a dead agent is replaced.

#include <filesystem>
#include <string>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/result.h"

namespace attache::agent {

// $XDG_RUNTIME_DIR/attache (or /run/user/UID/attache).
std::filesystem::path default_runtime_dir();

Status prepare_runtime_dir(const std::filesystem::path& dir);

struct ListeningSocket {
    UniqueFd fd;
    UniqueFd lock;  // the flock; released when the agent exits
    std::filesystem::path path;
};

// Binds and listens. An existing socket is replaced only when nobody holds its lock and
// nobody accepts on it (a live socket, such as systemd's attache-agent.socket, is refused).
Result<ListeningSocket> listen_on(const std::filesystem::path& path);

// A listening socket systemd passed (socket activation): takes the same lock listen_on
// takes, so an agent started by hand refuses to run beside this one.
Result<ListeningSocket> adopt_socket(int fd, const std::filesystem::path& path);

}  // namespace attache::agent
