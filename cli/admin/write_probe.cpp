#include "cli/admin/write_probe.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace attache::cli::admin {

Status probe_directory(const std::string& dir, const std::string& what) {
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Error(what + " is not a directory");
    std::string probe = (dir.empty() ? std::string(".") : dir) + "/.attache-write-probe-XXXXXX";
    int fd = mkstemp(probe.data());
    if (fd < 0)
        return Error(what + " is not writable: " + std::strerror(errno));
    close(fd);
    if (unlink(probe.c_str()) != 0)
        return Error("cannot remove the probe file " + probe + ": " + std::strerror(errno));
    return ok();
}

}  // namespace attache::cli::admin
