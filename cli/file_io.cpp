#include "cli/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace attache::cli {
namespace {

Error io_error(const std::string& what, const std::string& path) {
    return Error("cannot " + what + " " + path + ": " + std::strerror(errno));
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

}  // namespace attache::cli
