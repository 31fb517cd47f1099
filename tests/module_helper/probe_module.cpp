// libattache-probe-module.so: a PKCS#11 module that reports the process it was loaded into.
// At C_Initialize it writes to the file named by ATTACHE_PROBE_OUTPUT: its whole environment
// ("env NAME=value" lines), "dumpable N" (prctl PR_GET_DUMPABLE), "core N" (RLIMIT_CORE's soft
// limit) and "fd N" for every open descriptor but the one it writes with. At each C_GetInfo it
// appends "syscall NAME ERRNO" for system calls the helper's seccomp filter denies (0: the
// call was made and did what it does; each is harmless either way). It has no slots.

#include <dirent.h>
#include <p11-kit/pkcs11.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace {

void report() {
    const char* path = std::getenv("ATTACHE_PROBE_OUTPUT");
    if (path == nullptr)
        return;
    FILE* out = std::fopen(path, "we");
    if (out == nullptr)
        return;
    for (char** e = environ; *e != nullptr; ++e)
        std::fprintf(out, "env %s\n", *e);
    std::fprintf(out, "dumpable %d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
    rlimit core{};
    getrlimit(RLIMIT_CORE, &core);
    std::fprintf(out, "core %llu\n", static_cast<unsigned long long>(core.rlim_cur));
    if (DIR* fds = opendir("/proc/self/fd")) {
        const int own = dirfd(fds);
        const int file = fileno(out);
        while (dirent* d = readdir(fds)) {
            if (d->d_name[0] == '.')
                continue;
            const int fd = std::atoi(d->d_name);
            if (fd != own && fd != file)
                std::fprintf(out, "fd %d\n", fd);
        }
        closedir(fds);
    }
    std::fclose(out);
}

int error_of(long result) {
    return result < 0 ? errno : 0;
}

// Calls that fail with ENOENT, EBADF or succeed harmlessly when allowed, EPERM when denied.
void report_syscalls() {
    const char* path = std::getenv("ATTACHE_PROBE_OUTPUT");
    if (path == nullptr)
        return;
    FILE* out = std::fopen(path, "ae");
    if (out == nullptr)
        return;
    char* const argv[] = {nullptr};
    std::fprintf(out, "syscall execve %d\n",
                 error_of(syscall(SYS_execve, "/nonexistent/attache-probe", argv, argv)));
    char from[4] = "abc", to[4] = {};
    iovec local{to, sizeof to}, remote{from, sizeof from};
    std::fprintf(out, "syscall process_vm_readv %d\n",
                 error_of(syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0)));
    std::fprintf(out, "syscall unshare %d\n", error_of(syscall(SYS_unshare, 0)));
    std::fprintf(out, "syscall getpid %d\n", error_of(syscall(SYS_getpid)));
    std::fclose(out);
}

CK_RV initialize(CK_VOID_PTR) {
    report();
    return CKR_OK;
}
CK_RV finalize(CK_VOID_PTR) {
    return CKR_OK;
}
CK_RV get_info(CK_INFO_PTR info) {
    if (info == nullptr)
        return CKR_ARGUMENTS_BAD;
    report_syscalls();
    *info = CK_INFO{};
    info->cryptokiVersion = {2, 40};
    std::memset(info->manufacturerID, ' ', sizeof info->manufacturerID);
    std::memcpy(info->manufacturerID, "attache probe", 13);
    std::memset(info->libraryDescription, ' ', sizeof info->libraryDescription);
    return CKR_OK;
}
CK_RV get_slot_list(CK_BBOOL, CK_SLOT_ID_PTR, CK_ULONG_PTR count) {
    if (count == nullptr)
        return CKR_ARGUMENTS_BAD;
    *count = 0;
    return CKR_OK;
}

CK_FUNCTION_LIST functions = [] {
    CK_FUNCTION_LIST f{};
    f.version = {2, 40};
    f.C_Initialize = initialize;
    f.C_Finalize = finalize;
    f.C_GetInfo = get_info;
    f.C_GetSlotList = get_slot_list;
    return f;
}();

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(
    CK_FUNCTION_LIST_PTR_PTR list) {
    if (list == nullptr)
        return CKR_ARGUMENTS_BAD;
    *list = &functions;
    return CKR_OK;
}
