#include "agent/workstation/log_file.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "agent/server/socket_dir.h"

namespace attache::agent {
namespace {

Error sys_error(const std::string& what) {
    return Error(what + ": " + std::strerror(errno));
}

Status make_parents(const std::filesystem::path& dir) {
    std::filesystem::path partial;
    for (const auto& part : dir) {
        partial /= part;
        if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
            return sys_error("cannot create " + partial.string());
    }
    return ok();
}

}  // namespace

Result<std::filesystem::path> default_log_file() {
    if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state == '/')
        return std::filesystem::path(state) / "attache" / "agent.log";
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home != '/') {
        const passwd* pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : nullptr;
    }
    if (home == nullptr || *home != '/')
        return Error("no home directory for the log file; set XDG_STATE_HOME");
    return std::filesystem::path(home) / ".local/state/attache/agent.log";
}

Result<UniqueFd> open_log_file(const std::filesystem::path& path) {
    const std::filesystem::path dir = path.parent_path();
    ATTACHE_CHECK(make_parents(dir.parent_path()));
    ATTACHE_CHECK(prepare_runtime_dir(dir));
    UniqueFd fd(open(path.c_str(),
                     O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
    if (!fd.valid()) {
        if (errno == ELOOP)
            return Error("refusing to log to " + path.string() + ": it is a symbolic link");
        return sys_error("cannot open the log file " + path.string());
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0)
        return sys_error("cannot inspect " + path.string());
    if (!S_ISREG(st.st_mode) || st.st_uid != getuid()) {
        return Error("refusing to log to " + path.string() + ": it is not a regular file of yours");
    }
    if ((st.st_mode & 0777) != 0600 && fchmod(fd.get(), 0600) != 0)
        return sys_error("cannot chmod 0600 " + path.string());
    return fd;
}

}  // namespace attache::agent
