#include "agent/audit/audit_key.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "agent/audit/audit_file.h"
#include "pkcs11/agent_protocol/unique_fd.h"

namespace attache::audit {
namespace {

std::string errno_text(int err) {
    return std::strerror(err);
}

std::string mode_text(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

}  // namespace

Result<AuditKey> AuditKey::from_bytes(std::string_view bytes) {
    if (bytes.size() != kKeyBytes)
        return Error("an audit key has " + std::to_string(kKeyBytes) + " bytes, not " +
                     std::to_string(bytes.size()));
    AuditKey key;
    if (!Secret::from(bytes, key.secret_))
        return Error("the audit key does not fit in locked memory");
    EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (hmac == nullptr)
        return Error("OpenSSL has no HMAC");
    key.keyed_.reset(EVP_MAC_CTX_new(hmac));
    EVP_MAC_free(hmac);  // the context holds its own reference
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (!key.keyed_ ||
        EVP_MAC_init(key.keyed_.get(), key.secret_.data(), key.secret_.size(), params) != 1)
        return Error("cannot set up HMAC-SHA256 with the audit key");
    return key;
}

Bytes AuditKey::chain_mac(const Bytes& previous_mac, std::string_view body) const {
    Bytes mac(EVP_MAX_MD_SIZE);
    size_t size = 0;
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_dup(keyed_.get()));
    // Fails only without memory; an empty MAC then matches no record and verifies nothing.
    if (!ctx || EVP_MAC_update(ctx.get(), previous_mac.data(), previous_mac.size()) != 1 ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(body.data()),
                       body.size()) != 1 ||
        EVP_MAC_final(ctx.get(), mac.data(), &size, mac.size()) != 1)
        return {};
    mac.resize(size);
    return mac;
}

Result<AuditKey> load_audit_key(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
        const int err = errno;
        if (err == ELOOP)
            return Error("the audit key " + path + " is a symbolic link: give the file itself");
        return Error("cannot open the audit key " + path + ": " + errno_text(err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return Error("cannot stat the audit key " + path + ": " + errno_text(errno));
    if (!S_ISREG(st.st_mode))
        return Error("the audit key " + path + " is not a regular file");
    if ((st.st_mode & 077) != 0)
        return Error("the audit key " + path + " has mode " + mode_text(st.st_mode) +
                     ": others could read or replace it; make a new key, or `chmod 0400 " + path +
                     "` if no one else had access");
    const uid_t me = ::geteuid();
    if (st.st_uid != me && me != 0)
        return Error("the audit key " + path + " belongs to uid " + std::to_string(st.st_uid) +
                     ", not to this user (uid " + std::to_string(me) + ")");
    if (st.st_size != static_cast<off_t>(kKeyBytes))
        return Error("the audit key " + path + " has " + std::to_string(st.st_size) +
                     " bytes, not " + std::to_string(kKeyBytes) + ": it is not an audit key");
    std::array<unsigned char, kKeyBytes> buf{};
    size_t done = 0;
    while (done < buf.size()) {
        const ssize_t n = ::read(fd.get(), buf.data() + done, buf.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            OPENSSL_cleanse(buf.data(), buf.size());
            return Error("cannot read the audit key " + path);
        }
        done += static_cast<size_t>(n);
    }
    auto key = AuditKey::from_bytes(
        std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
    OPENSSL_cleanse(buf.data(), buf.size());
    return key;
}

Status create_audit_key(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::symlink_status(path, ec).type() != fs::file_type::not_found)
        return Error(path +
                     " exists: an audit key is never replaced (records written with it "
                     "could no longer be verified); remove it yourself if you mean to");
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::string temp = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
    UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (!fd.valid())
        return Error("cannot create a file in " + dir.string() + ": " + errno_text(errno));
    // Removed on every path; after link() the key lives on under its own name.
    struct Unlink {
        const std::string& name;
        ~Unlink() { ::unlink(name.c_str()); }
    } unlink_temp{temp};

    std::array<unsigned char, kKeyBytes> key{};
    Status status = random_bytes(key.data(), key.size());
    if (status)
        status = write_all(fd.get(),
                           std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
    OPENSSL_cleanse(key.data(), key.size());
    if (!status)
        return Error("cannot write " + temp + ": " + status.error().message());
    if (::fchmod(fd.get(), 0400) != 0 || ::fsync(fd.get()) != 0)
        return Error("cannot finish " + temp + ": " + errno_text(errno));
    // link() fails when `path` appeared meanwhile: never replaces a key.
    if (::link(temp.c_str(), path.c_str()) != 0)
        return Error("cannot create " + path + ": " + errno_text(errno));
    UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd.valid())
        ::fsync(dir_fd.get());
    return ok();
}

}  // namespace attache::audit
