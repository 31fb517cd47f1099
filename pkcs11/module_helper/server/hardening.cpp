#include "pkcs11/module_helper/server/hardening.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace attache::p11::module_helper {
namespace {

bool close_from(unsigned first, unsigned last) {
    if (first > last)
        return true;
    return syscall(SYS_close_range, first, last, 0) == 0;
}

}  // namespace

bool harden_helper(int socket_fd) {
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return false;
    const rlimit no_core{0, 0};
    if (setrlimit(RLIMIT_CORE, &no_core) != 0)
        return false;
    // Inherited through execve from the agent's spawner; set again in case it was not.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        return false;
    if (getppid() == 1)
        return false;  // the agent is already gone
    signal(SIGPIPE, SIG_IGN);
    const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
        return false;
    if (null > STDERR_FILENO && null != socket_fd)
        close(null);
    const auto fd = static_cast<unsigned>(socket_fd);
    return close_from(STDERR_FILENO + 1, fd - 1) && close_from(fd + 1, ~0U);
}

}  // namespace attache::p11::module_helper
