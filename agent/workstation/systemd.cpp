#include "agent/workstation/systemd.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace attache::agent {

Result<std::vector<InheritedSocket>> inherited_sockets() {
    char** names = nullptr;
    const int n = sd_listen_fds_with_names(/*unset_environment=*/1, &names);
    if (n < 0)
        return Error(std::string("cannot read the sockets systemd passed: ") + std::strerror(-n));
    std::vector<InheritedSocket> out;
    Error problem;
    bool failed = false;
    for (int i = 0; i < n; ++i) {
        const int fd = SD_LISTEN_FDS_START + i;
        InheritedSocket s;
        s.fd = fd;
        s.name = names && names[i] ? names[i] : "";
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        sockaddr_un addr{};
        socklen_t len = sizeof addr;
        if (sd_is_socket_unix(fd, SOCK_STREAM, /*listening=*/1, nullptr, 0) <= 0 ||
            getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
            len <= offsetof(sockaddr_un, sun_path) || addr.sun_path[0] == '\0') {
            failed = true;
            problem = Error("systemd passed descriptor " + std::to_string(fd) + " (" + s.name +
                            "), which is not a listening Unix stream socket bound to a path; "
                            "check attache-agent.socket");
            continue;
        }
        s.path.assign(addr.sun_path, strnlen(addr.sun_path, sizeof addr.sun_path));
        out.push_back(std::move(s));
    }
    if (names) {
        for (int i = 0; i < n; ++i)
            std::free(names[i]);
        std::free(names);
    }
    if (failed)
        return problem;
    return out;
}

bool notify_expected() {
    const char* s = std::getenv("NOTIFY_SOCKET");
    return s != nullptr && *s != '\0';
}

void notify_ready(const std::string& status) {
    sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
}

void notify_stopping() {
    sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
}

}  // namespace attache::agent
