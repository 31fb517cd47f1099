#include "agent/request/session_directory.h"

#include <algorithm>

namespace attache::agent {
namespace {

bool is_sshd_name(std::string_view name) {
    // OpenSSH 9.8 moved the per-connection server into sshd-session.
    return name == "sshd" || name == "sshd-session";
}

std::string_view basename_of(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool has_sshd_ancestor(const ClientFacts& client) {
    return std::any_of(client.parents.begin(), client.parents.end(), [](const ProcessLink& p) {
        return (p.exe != "?" && is_sshd_name(basename_of(p.exe))) || is_sshd_name(p.comm);
    });
}

void add_session_facts(ClientFacts& client, SessionDirectory* directory) {
    LoginSession session;
    if (directory != nullptr)
        session = directory->session_of(client.pid);
    if (session.kind == SessionKind::none && has_sshd_ancestor(client))
        session.kind = SessionKind::remote;
    client.session = session.kind;
    client.at_seat = session.at_seat();
    client.session_id = std::move(session.id);
    client.seat = std::move(session.seat);
    client.session_class = std::move(session.klass);
    client.session_active = session.active;
}

}  // namespace attache::agent
