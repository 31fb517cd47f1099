#pragma once

// Whether a file can be created in a directory, found out by doing it: a uniquely named empty
// file is created and removed again. access(2) is not enough: it answers for the real uid, root
// passes it everywhere, and it does not see read-only mounts or full disks.

#include <string>

#include "pkcs11/result.h"

namespace attache::cli::admin {

// `what` names the directory in the error ("--out /srv/requests").
Status probe_directory(const std::string& dir, const std::string& what);

}  // namespace attache::cli::admin
