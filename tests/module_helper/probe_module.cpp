// libattache-probe-module.so: a PKCS#11 module that reports the process it was loaded into.
// At C_Initialize it writes to the file named by ATTACHE_PROBE_OUTPUT: its whole environment
// ("env NAME=value" lines), "dumpable N" (prctl PR_GET_DUMPABLE), "core N" (RLIMIT_CORE's soft
// limit) and "fd N" for every open descriptor but the one it writes with. It has no slots.

#include <dirent.h>
#include <p11-kit/pkcs11.h>
#include <sys/prctl.h>
#include <sys/resource.h>

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
