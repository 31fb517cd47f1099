#pragma once

// Who is at the other end of a connection: SO_PEERCRED, then what /proc says about that
// process (agent/request/context.h, ClientFacts). The login session is added separately
// (add_session_facts, agent/request/session_directory.h): it may need a D-Bus round trip.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/request/context.h"
#include "pkcs11/result.h"

namespace attache::agent {

// The uid's login name from passwd ("" when it has none): what the card manifest names
// holders by.
std::string login_name(uid_t uid);

// SO_PEERCRED, then process_facts() of the peer's pid.
Result<ClientFacts> peer_of(int fd);

// exe, start_time, parents and unit of a process from /proc (pid, uid, gid and the session
// are left alone). If the process changed while it was read (its start time differs after,
// so the pid was reused), exe is "?" and there are neither parents nor unit.
void add_process_facts(ClientFacts& client);

// The fields of /proc/PID/stat the agent uses.
struct ProcStat {
    pid_t ppid = 0;           // field 4
    uint64_t start_time = 0;  // field 22, clock ticks after boot
};
// Parses /proc/PID/stat. The command name (field 2) is in parentheses and may itself contain
// ')' and spaces, so the fields are counted after the last ')'.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// The systemd unit of a process from /proc/PID/cgroup: the last path component that ends in
// ".service" or ".scope" ("" when none).
std::string unit_of_cgroup(std::string_view text);

}  // namespace attache::agent
