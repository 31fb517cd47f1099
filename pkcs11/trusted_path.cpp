#include "pkcs11/trusted_path.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace attache {
namespace {

// One component: owned by root; a file or directory not writable by group or others (a
// symlink's own mode means nothing; what it points to is checked on the resolved path).
Status check_component(const std::filesystem::path& p) {
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0)
        return Error(p.string() + ": " + std::strerror(errno));
    if (st.st_uid != 0)
        return Error(p.string() + " is owned by uid " + std::to_string(st.st_uid) +
                     ", not root: a managed broker trusts only root's files (chown root:root)");
    if (!S_ISLNK(st.st_mode) && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return Error(p.string() + " is writable by " +
                     ((st.st_mode & S_IWOTH) ? "everyone" : "its group") +
                     ": a managed broker trusts only files root alone can change (chmod go-w)");
    return ok();
}

Status check_each(const std::filesystem::path& path) {
    std::filesystem::path prefix;
    for (const auto& part : path) {
        prefix /= part;
        ATTACHE_CHECK(check_component(prefix));
    }
    return ok();
}

}  // namespace

Status check_root_owned(const std::filesystem::path& path) {
    if (!path.is_absolute())
        return Error(path.string() + " is not an absolute path");
    ATTACHE_CHECK(check_each(path.lexically_normal()));
    std::error_code ec;
    const auto resolved = std::filesystem::canonical(path, ec);
    if (ec)
        return Error(path.string() + ": " + ec.message());
    if (resolved != path.lexically_normal())
        ATTACHE_CHECK(check_each(resolved));
    return ok();
}

}  // namespace attache
