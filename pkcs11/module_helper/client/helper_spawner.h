#pragma once

// Starts attache-module-helper processes. The fork happens on one long-lived thread of the
// process: PR_SET_PDEATHSIG fires when the *thread* that forked ends, so a helper forked from
// a short-lived thread would be killed with it. The child gets the socket as fd 3, no other
// descriptor, an empty signal mask, no core files, SIGKILL at its parent's death, and exactly
// the given environment (execve).

#include <sys/types.h>

#include <string>
#include <vector>

#include "pkcs11/result.h"

namespace attache::p11::module_helper {

struct SpawnedHelper {
    int socket = -1;  // the agent's end, close-on-exec
    pid_t pid = 0;
    int pidfd = -1;
};

inline constexpr int kHelperSocketFd = 3;

Result<SpawnedHelper> spawn_helper(const std::string& helper_path, const std::string& module_path,
                                   const std::vector<std::string>& environment);

}  // namespace attache::p11::module_helper
