#pragma once

#include <sys/types.h>

#include <string>

namespace attache::agent {

// Who is on the other end of a connection, from SO_PEERCRED and /proc.
struct ClientInfo {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string exe;  // /proc/PID/exe, "?" when unreadable
    uint64_t connection = 0;
};

}  // namespace attache::agent
