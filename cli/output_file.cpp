#include "cli/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace attache::cli {
namespace {

Error io_error(const std::string& what, const std::string& path, int err) {
    return Error("cannot " + what + " " + path + ": " + std::strerror(err));
}

// The descriptor a name stands for: /dev/stdout, /dev/fd/N, ... (nullopt: a name like any other).
std::optional<int> descriptor_name(const std::string& path) {
    if (path == "/dev/stdout")
        return 1;
    if (path == "/dev/stderr")
        return 2;
    for (const char* prefix : {"/dev/fd/", "/proc/self/fd/"}) {
        const std::string_view p(prefix);
        if (!path.starts_with(p) || path.size() == p.size() || path.size() > p.size() + 9)
            continue;
        int fd = 0;
        for (char c : std::string_view(path).substr(p.size())) {
            if (c < '0' || c > '9')
                return std::nullopt;
            fd = fd * 10 + (c - '0');
        }
        return fd;
    }
    return std::nullopt;
}

std::string link_target(const std::string& path) {
    char buf[4096];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
}

Status write_all(int fd, std::string_view data, const std::string& path) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return io_error("write", path, n < 0 ? errno : EIO);
        done += static_cast<size_t>(n);
    }
    return ok();
}

// "dir/.name.attache-XXXXXX" beside `path`.
std::string temp_template(const std::string& path) {
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    return (slash == std::string::npos ? "./" : dir) + "." + name + ".attache-XXXXXX";
}

}  // namespace

OutputFile::OutputFile(std::string path, Kind kind, int fd, bool owns_fd)
    : path_(std::move(path)), kind_(kind), fd_(fd), owns_fd_(owns_fd) {}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : path_(std::move(other.path_)),
      kind_(other.kind_),
      fd_(other.fd_),
      owns_fd_(other.owns_fd_),
      stdout_(other.stdout_),
      replace_(other.replace_),
      temp_(std::move(other.temp_)),
      committed_(other.committed_) {
    other.fd_ = -1;
    other.owns_fd_ = false;
    other.temp_.clear();
}

OutputFile::~OutputFile() {
    if (owns_fd_ && fd_ >= 0)
        close(fd_);
    if (!temp_.empty() && !committed_)
        unlink(temp_.c_str());
}

Result<OutputFile> OutputFile::prepare(const std::string& path, OutputRules rules) {
    if (path.empty() || path == "-") {
        OutputFile out("-", Kind::descriptor, STDOUT_FILENO, false);
        out.stdout_ = true;
        return out;
    }
    if (auto fd = descriptor_name(path)) {
        const int flags = fcntl(*fd, F_GETFL);
        if (flags < 0)
            return Error("cannot write " + path + ": file descriptor " + std::to_string(*fd) +
                         " is not open");
        if ((flags & O_ACCMODE) == O_RDONLY)
            return Error("cannot write " + path + ": file descriptor " + std::to_string(*fd) +
                         " is open for reading only");
        OutputFile out(path, Kind::descriptor, *fd, false);
        out.stdout_ = *fd == STDOUT_FILENO;
        return out;
    }

    struct stat st {};
    bool exists = true;
    if (lstat(path.c_str(), &st) != 0) {
        if (errno != ENOENT)
            return io_error("check", path, errno);
        exists = false;
    }
    if (exists && S_ISLNK(st.st_mode)) {
        return Error(path + " is a symbolic link (to " + link_target(path) +
                     "); Attache does not write through links: give the file itself");
    }
    if (exists && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
        // Written in place; O_NOFOLLOW and the identity check refuse a name swapped meanwhile.
        int fd = open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
            return io_error("open", path, errno);
        struct stat opened {};
        if (fstat(fd, &opened) != 0 || opened.st_dev != st.st_dev || opened.st_ino != st.st_ino ||
            (opened.st_mode & S_IFMT) != (st.st_mode & S_IFMT)) {
            close(fd);
            return Error("cannot write " + path + ": it changed while it was opened");
        }
        return OutputFile(path, Kind::in_place, fd, true);
    }
    if (exists && S_ISDIR(st.st_mode))
        return Error("cannot write " + path + ": it is a directory");
    if (exists && !S_ISREG(st.st_mode))
        return Error("cannot write " + path +
                     ": it is not a regular file, a character device or a FIFO");
    if (exists && !rules.replace)
        return Error("refusing to replace " + path + ": it exists");

    std::string temp = temp_template(path);
    int fd = mkostemp(temp.data(), O_CLOEXEC);
    if (fd < 0)
        return Error("cannot create a file next to " + path + ": " + std::strerror(errno));
    OutputFile out(path, Kind::replace_file, fd, true);
    out.temp_ = std::move(temp);
    out.replace_ = rules.replace;
    if (fchmod(fd, static_cast<mode_t>(rules.mode)) != 0)
        return io_error("set the mode of", out.temp_, errno);
    return out;
}

Status OutputFile::write(std::string_view data) {
    return write_all(fd_, data, kind_ == Kind::replace_file ? temp_ : path_);
}

Status OutputFile::commit() {
    if (committed_)
        return ok();
    if (kind_ == Kind::descriptor) {
        committed_ = true;
        return ok();
    }
    const int fd = fd_;
    fd_ = -1;
    if (kind_ == Kind::in_place) {
        committed_ = true;
        return close(fd) == 0 ? ok() : io_error("write", path_, errno);
    }
    if (fsync(fd) != 0) {
        int err = errno;
        close(fd);
        return io_error("write", temp_, err);
    }
    if (close(fd) != 0)
        return io_error("write", temp_, errno);
    // The name may have changed since prepare(): never rename over anything but a file.
    struct stat st {};
    if (lstat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
        return Error("cannot write " + path_ + ": it is no longer a regular file");
    if (replace_) {
        if (rename(temp_.c_str(), path_.c_str()) != 0)
            return io_error("write", path_, errno);
    } else {
        // link() fails when the name exists: never replaces another file.
        if (link(temp_.c_str(), path_.c_str()) != 0)
            return io_error("write", path_, errno);
        unlink(temp_.c_str());
    }
    committed_ = true;
    return ok();
}

Status write_output(const std::string& path, std::string_view data, OutputRules rules) {
    ATTACHE_TRY(OutputFile out, OutputFile::prepare(path, rules));
    ATTACHE_CHECK(out.write(data));
    return out.commit();
}

}  // namespace attache::cli
