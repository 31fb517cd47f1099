#pragma once

// Who asks, and how the request reached the agent: the facts every step of the broker's chain
// and the policy decide on. Every field is something the agent read itself (SO_PEERCRED,
// /proc, logind, a verified SSH session-bind); nothing here is what a client says about
// itself.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attache::agent {

// The socket (and protocol) a request came through.
enum class Channel {
    native,             // agent.sock, the native protocol (the CLI, applications)
    forwarding_module,  // agent.sock, from attache-pkcs11.so (it says so in its hello; a hint)
    ssh,                // ssh.sock, the SSH agent protocol
    // No client: the broker itself, on a logind signal (a session locked, switched away or
    // ended; the machine going to sleep). Only audit records carry it; no request does.
    logind,
};
std::string_view channel_name(Channel channel);  // "native", "pkcs11", "ssh", "logind"

// The login session of the client, as logind (or the parent chain) says.
enum class SessionKind {
    local,   // a session on a seat (the user at the machine)
    remote,  // a remote session (sshd), or a client with sshd among its ancestors
    none,    // no login session (a service, cron, no logind)
};
std::string_view session_kind_name(SessionKind kind);  // "local", "remote", "none"

// Parents are followed at most this far (a chain of shells is short; a loop is impossible but
// /proc could change under us).
inline constexpr size_t kMaxParentChain = 16;

struct ProcessLink {
    pid_t pid = 0;
    std::string exe;  // canonical path of /proc/PID/exe, "?" when unreadable
    // /proc/PID/comm, readable even where exe is not (a non-dumpable process such as sshd's
    // session process). The process sets it itself, so it may only ever make a decision
    // stricter (an sshd ancestor means a remote session), never weaker.
    std::string comm;
};

struct ClientFacts {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string user;  // the uid's login name (passwd); empty when it has none
    std::string exe;   // canonical path of /proc/PID/exe, "?" when unreadable
    // /proc/PID/stat field 22 (clock ticks after boot): pid and start time name one process,
    // so a remembered confirmation never passes to a later process that reuses the pid.
    uint64_t start_time = 0;
    std::vector<ProcessLink> parents;  // nearest first, up to kMaxParentChain, without pid 1
    std::string session_id;            // logind's session id; empty: none or unknown
    SessionKind session = SessionKind::none;
    // What logind says of that session (empty/false when it knows none): its seat ("seat0"),
    // its class ("user", "greeter", "background", ...) and whether it is the seat's active one.
    std::string seat;
    std::string session_class;
    bool session_active = false;
    // The holder at the machine: a local session on a seat, of class user, active (managed
    // mode's "Sessions" rule, issue 14). Never true without logind.
    bool at_seat = false;
    std::string unit;  // systemd unit from /proc/PID/cgroup ("" unknown)
    uint64_t connection = 0;
};

// One value per client process (pid and start time; the connection when the pid is unknown):
// whom a token's session pool is fair between. 50 connections of one process are one client.
uint64_t client_key(const ClientFacts& client);

// What the SSH front end verified on this connection (OpenSSH PROTOCOL.agent section 1).
struct SshFacts {
    enum class Payload {
        userauth,  // an SSH_MSG_USERAUTH_REQUEST to sign (RFC 4252 section 7)
        sshsig,    // an SSHSIG blob (ssh-keygen -Y sign; OpenSSH PROTOCOL.sshsig)
        other,     // anything else: an X.509 TBS, a document, random bytes
    };
    bool bound = false;        // a session-bind was verified on this connection
    bool bind_failed = false;  // a session-bind failed: nothing is signed on this connection
    bool forwarded = false;    // a binding said is_forwarding (the agent is used over ssh -A)
    std::string destination;   // the last verified host key, "SHA256:..."; empty when unbound
    Payload payload = Payload::other;
    bool session_id_matches = false;  // userauth: its session id is the bound one
    std::string sshsig_namespace;     // sshsig: the namespace ("git", "file", ...)
    bool confirm_constraint = false;  // the key was added with `ssh-add -c`
};

// Everything the broker knows about one request besides the operation itself.
struct Context {
    ClientFacts client;
    Channel channel = Channel::native;
    SshFacts ssh;  // meaningful when channel == Channel::ssh
};

// The kinds of operation the policy distinguishes.
enum class OperationKind { sign, decrypt, derive, unlock, lock, list };
std::string_view operation_name(OperationKind kind);  // "sign", "decrypt", ...

}  // namespace attache::agent
