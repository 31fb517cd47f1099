#pragma once

// The agent connections open in this process, in a fixed table that a fork() child can walk
// without locks or allocation: the child closes its copies of them (never reading a reply
// meant for its parent) before anything else runs.

namespace attache::forwarding {

// The module never has more connections than this (see ConnectionPool).
inline constexpr int kMaxConnections = 64;

// Returns the entry, or -1 when the table is full.
int register_fd(int fd);
void unregister_fd(int entry);
// In a fork() child: closes every registered descriptor and empties the table.
void close_registered_fds_in_child();

}  // namespace attache::forwarding
