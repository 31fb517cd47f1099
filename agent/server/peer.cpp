#include "agent/server/peer.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace attache::agent {

Result<ClientFacts> peer_of(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
        return Error(std::string("SO_PEERCRED: ") + std::strerror(errno));
    }
    ClientFacts c;
    c.pid = cred.pid;
    c.uid = cred.uid;
    c.gid = cred.gid;
    char exe[4096];
    const std::string link = "/proc/" + std::to_string(cred.pid) + "/exe";
    ssize_t n = readlink(link.c_str(), exe, sizeof exe - 1);
    c.exe = n > 0 ? std::string(exe, static_cast<size_t>(n)) : "?";
    return c;
}

}  // namespace attache::agent
