#include "agent/server/socket_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace attache::agent {
namespace {

// Connections waiting for accept(); the agent accepts quickly, so a short queue suffices.
constexpr int kListenBacklog = 64;

Error sys_error(const std::string& what) {
    return Error(what + ": " + std::strerror(errno));
}

Status take_lock(ListeningSocket& ls, const std::string& p) {
    const std::string lock_path = p + ".lock";
    ls.lock.reset(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!ls.lock.valid())
        return sys_error("cannot open " + lock_path);
    if (flock(ls.lock.get(), LOCK_EX | LOCK_NB) != 0) {
        return Error("another attache-agent is already serving " + p +
                     " (stop it first, or give this one --socket PATH)");
    }
    return ok();
}

// Whether something accepts connections on the socket at `addr` (a connection that is
// merely queued counts: systemd's socket unit holds the socket without accepting).
bool someone_listens(const sockaddr_un& addr) {
    UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe.valid())
        return false;
    return connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

std::filesystem::path default_runtime_dir() {
    if (const char* d = std::getenv("XDG_RUNTIME_DIR"); d && *d) {
        return std::filesystem::path(d) / "attache";
    }
    return std::filesystem::path("/run/user") / std::to_string(getuid()) / "attache";
}

Status prepare_runtime_dir(const std::filesystem::path& dir) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return sys_error("cannot create " + dir.string());
    }
    struct stat st {};
    if (lstat(dir.c_str(), &st) != 0)
        return sys_error("cannot inspect " + dir.string());
    if (S_ISLNK(st.st_mode)) {
        return Error("refusing to use " + dir.string() + ": it is a symbolic link");
    }
    if (!S_ISDIR(st.st_mode)) {
        return Error("refusing to use " + dir.string() + ": it is not a directory");
    }
    if (st.st_uid != getuid()) {
        return Error("refusing to use " + dir.string() + ": it is owned by uid " +
                     std::to_string(st.st_uid) + ", not by you (uid " + std::to_string(getuid()) +
                     ")");
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        return Error("refusing to use " + dir.string() + ": it is writable by other users (mode " +
                     std::to_string(st.st_mode & 0777) + "); remove it or chmod 0700 it");
    }
    if ((st.st_mode & 0777) != 0700 && chmod(dir.c_str(), 0700) != 0) {
        return sys_error("cannot chmod 0700 " + dir.string());
    }
    return ok();
}

Result<ListeningSocket> listen_on(const std::filesystem::path& path) {
    ListeningSocket ls;
    ls.path = path;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = path.string();
    if (p.size() >= sizeof addr.sun_path)
        return Error("socket path too long: " + p);
    std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);

    ATTACHE_CHECK(take_lock(ls, p));

    struct stat st {};
    if (lstat(p.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return Error("refusing to replace " + p + ": it exists and is not a socket");
        }
        if (someone_listens(addr)) {
            return Error("refusing to replace " + p +
                         ": it is live (systemd's attache-agent.socket? then use `systemctl "
                         "--user start attache-agent`)");
        }
        // Nobody holds the lock and nobody listens, so the socket is a dead agent's.
        if (unlink(p.c_str()) != 0)
            return sys_error("cannot remove stale socket " + p);
    }

    ls.fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!ls.fd.valid())
        return sys_error("socket");
    const mode_t old_mask = umask(0177);
    const int rc = bind(ls.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    umask(old_mask);
    if (rc != 0)
        return sys_error("cannot bind " + p);
    if (chmod(p.c_str(), 0600) != 0)
        return sys_error("cannot chmod " + p);
    if (listen(ls.fd.get(), kListenBacklog) != 0)
        return sys_error("cannot listen on " + p);
    return ls;
}

Result<ListeningSocket> adopt_socket(int fd, const std::filesystem::path& path) {
    ListeningSocket ls;
    ls.path = path;
    ls.fd.reset(fd);
    ATTACHE_CHECK(take_lock(ls, path.string()));
    return ls;
}

}  // namespace attache::agent
