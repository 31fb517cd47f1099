#pragma once

// Reading an audit file whole, and the few system calls its writer needs, with errors as
// values.

#include <cstddef>
#include <string>
#include <string_view>

#include "pkcs11/result.h"

namespace attache::audit {

// Where the broker's chain lives in managed mode (root-owned directory, file mode 0640).
inline constexpr const char* kDefaultAuditFile = "/var/log/attache/audit.log";

// Largest audit file read into memory (verify, the broker's check at start, `attache log`).
// Rotate well before: a year of a busy workstation's signatures is far less.
inline constexpr size_t kMaxAuditFileBytes = size_t{1} << 30;

// The whole content of the open file `fd` (from offset 0, whatever its position).
Result<std::string> read_whole(int fd, const std::string& name);
// Opens `path` read-only (not following a symbolic link) and reads it whole.
Result<std::string> read_audit_file(const std::string& path);

// write(2) until everything is written; EINTR retried.
Status write_all(int fd, std::string_view bytes);

// Fills `out` from getrandom(2) (blocks only before the pool is first seeded).
Status random_bytes(unsigned char* out, size_t size);
// `size` random bytes as lower-case hex.
Result<std::string> random_hex(size_t size);

}  // namespace attache::audit
