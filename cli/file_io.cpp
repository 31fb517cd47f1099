#include "cli/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace attache::cli {
namespace {

Error io_error(const std::string& what, const std::string& path) {
    return Error("cannot " + what + " " + path + ": " + std::strerror(errno));
}

Status write_fd(int fd, const Bytes& data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return Error(std::string("write failed: ") + std::strerror(errno));
        done += static_cast<size_t>(n);
    }
    return ok();
}

}  // namespace

Result<Bytes> read_input(const std::string& path) {
    const bool stdin_input = path.empty() || path == "-";
    int fd = stdin_input ? 0 : open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error("open", path);
    Bytes data;
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            Error e = io_error("read", stdin_input ? "standard input" : path);
            if (!stdin_input)
                close(fd);
            return e;
        }
        if (n == 0)
            break;
        data.insert(data.end(), buf, buf + n);
        if (data.size() > kMaxInputSize) {
            if (!stdin_input)
                close(fd);
            return Error("input is larger than " + std::to_string(kMaxInputSize) +
                         " bytes; sign a digest of it instead (--prehashed)");
        }
    }
    if (!stdin_input)
        close(fd);
    return data;
}

Status write_output(const std::string& path, const Bytes& data) {
    if (path.empty() || path == "-")
        return write_fd(1, data);
    const std::string tmp = path + ".attache-tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return io_error("create", tmp);
    Status s = write_fd(fd, data);
    if (s && fsync(fd) != 0)
        s = io_error("sync", tmp);
    close(fd);
    if (s && rename(tmp.c_str(), path.c_str()) != 0)
        s = io_error("rename to", path);
    if (!s)
        unlink(tmp.c_str());
    return s;
}

}  // namespace attache::cli
