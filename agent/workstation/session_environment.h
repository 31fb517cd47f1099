#pragma once

// The graphical session's variables for pinentry. A socket-activated agent may start before
// the desktop has told the systemd user manager its DISPLAY or WAYLAND_DISPLAY (the card was
// already plugged in at login, say); so before each prompt the agent asks the user manager
// for its current environment, over the user bus, and takes the session variables from it.

#include <string>
#include <vector>

namespace attache::agent {

// The variables pinentry needs to reach the desktop, from `environment` (NAME=VALUE entries).
std::vector<std::string> session_variables(const std::vector<std::string>& environment);

// The user manager's environment (org.freedesktop.systemd1.Manager.Environment on the user
// bus), reduced to session_variables(); empty when there is no user manager to ask.
std::vector<std::string> user_manager_session_variables();

}  // namespace attache::agent
