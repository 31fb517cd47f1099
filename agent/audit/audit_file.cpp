#include "agent/audit/audit_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/bytes.h"

namespace attache::audit {

Result<std::string> read_whole(int fd, const std::string& name) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return Error("cannot stat " + name + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        return Error(name + " is not a regular file");
    if (static_cast<unsigned long long>(st.st_size) > kMaxAuditFileBytes)
        return Error(name + " is larger than " + std::to_string(kMaxAuditFileBytes >> 20) +
                     " MiB: rotate the audit file");
    std::string text(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n =
            ::pread(fd, text.data() + done, text.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error("cannot read " + name + ": " + std::strerror(errno));
        if (n == 0)
            break;  // shrank meanwhile
        done += static_cast<size_t>(n);
    }
    text.resize(done);
    return text;
}

Result<std::string> read_audit_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid())
        return Error("cannot open " + path + ": " + std::strerror(errno));
    return read_whole(fd.get(), path);
}

Status write_all(int fd, std::string_view bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Error(std::strerror(errno));
        }
        done += static_cast<size_t>(n);
    }
    return ok();
}

Status random_bytes(unsigned char* out, size_t size) {
    size_t done = 0;
    while (done < size) {
        const ssize_t n = getrandom(out + done, size - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error(std::string("getrandom: ") + std::strerror(errno));
        done += static_cast<size_t>(n);
    }
    return ok();
}

Result<std::string> random_hex(size_t size) {
    Bytes bytes(size);
    ATTACHE_CHECK(random_bytes(bytes.data(), bytes.size()));
    return hex(bytes);
}

}  // namespace attache::audit
