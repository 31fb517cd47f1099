#include "cli/admin/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace attache::cli::admin {

Status write_new_file(const std::string& path, const std::string& content, unsigned mode) {
    std::string tmp = path + ".tmp-XXXXXX";
    int fd = mkstemp(tmp.data());
    if (fd < 0)
        return Error("cannot create a file next to " + path + ": " + std::strerror(errno));
    auto failed = [&](const std::string& what) {
        int err = errno;
        close(fd);
        unlink(tmp.c_str());
        return Error(what + " " + path + ": " + std::strerror(err));
    };
    if (fchmod(fd, static_cast<mode_t>(mode)) != 0)
        return failed("cannot set the mode of");
    size_t done = 0;
    while (done < content.size()) {
        ssize_t n = write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return failed("cannot write");
        done += static_cast<size_t>(n);
    }
    if (fsync(fd) != 0)
        return failed("cannot write");
    close(fd);
    // link() fails if the name exists: never replaces another file.
    if (link(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        unlink(tmp.c_str());
        return Error("cannot write " + path + ": " + std::strerror(err));
    }
    unlink(tmp.c_str());
    return ok();
}

void WrittenFiles::undo() {
    for (const std::string& p : paths_)
        std::remove(p.c_str());
    paths_.clear();
}

}  // namespace attache::cli::admin
