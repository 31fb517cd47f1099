#pragma once

// Files a managed broker trusts, and the clients' view of managed mode, must be root's alone:
// the file and every directory above it owned by root and not writable by group or others.
// Checked on the path as given (symlinks owned by root too) and on the path they lead to, so
// no user can swap a component between the check and the use.

#include <filesystem>
#include <string>

#include "pkcs11/result.h"

namespace attache {

// Error: names the component and why ("/etc/attache/agent.toml is writable by group 'adm'...
// make it root's alone: chown root:root, chmod go-w").
Status check_root_owned(const std::filesystem::path& path);

}  // namespace attache
