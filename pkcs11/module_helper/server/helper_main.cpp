// attache-module-helper: loads one PKCS#11 module and serves the agent's calls to it over the
// socket it was handed.
//
//   attache-module-helper --fd N MODULE_PATH
//
// Started only by the agent (p11::Module::start_helper), with the environment the agent chose
// as its whole environment. Hardens itself first (hardening.h), then dlopens the module,
// C_Initialize(CKF_OS_LOCKING_OK), installs its seccomp filter (syscall_filter.h), answers a
// hello (the C_Initialize result), and serves the calls (call_server.h). When the agent
// closes the socket: C_Finalize if no call is running, then exit.

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "pkcs11/module_helper/server/call_server.h"
#include "pkcs11/module_helper/server/hardening.h"
#include "pkcs11/module_helper/server/syscall_filter.h"
#include "pkcs11/module_helper/wire/field_writer.h"
#include "pkcs11/module_helper/wire/frame_io.h"
#include "pkcs11/module_helper/wire/limits.h"

namespace {

using namespace attache::p11::module_helper;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "attache-module-helper: %s\n", what);
    std::_Exit(2);
}

void send_hello(int fd, CK_RV rv, const std::string& message) {
    FieldWriter w(CallId::hello);
    w.ulong(rv);
    w.bytes(message.data(), message.size());
    if (auto frame = w.finish())
        write_frame(fd, *frame);
}

CK_FUNCTION_LIST* load_module(int fd, const char* path) {
    void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* err = dlerror();
        send_hello(fd, CKR_GENERAL_ERROR, std::string("dlopen: ") + (err ? err : "failed"));
        std::_Exit(1);
    }
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
    CK_FUNCTION_LIST* functions = nullptr;
    if (get == nullptr) {
        send_hello(fd, CKR_GENERAL_ERROR, "the module has no C_GetFunctionList");
        std::_Exit(1);
    }
    if (CK_RV rv = get(&functions); rv != CKR_OK || functions == nullptr) {
        send_hello(fd, rv == CKR_OK ? CKR_GENERAL_ERROR : rv, "C_GetFunctionList failed");
        std::_Exit(1);
    }
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    const CK_RV rv = functions->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        send_hello(fd, rv, "C_Initialize failed");
        std::_Exit(1);
    }
    return functions;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4 || std::strcmp(argv[1], "--fd") != 0)
        fail("usage: attache-module-helper --fd N MODULE_PATH (started by attache-agent)");
    char* end = nullptr;
    const long fd_number = std::strtol(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || fd_number <= STDERR_FILENO || fd_number > 1 << 20)
        fail("--fd needs a descriptor number above 2");
    const int fd = static_cast<int>(fd_number);
    if (!harden_helper(fd))
        fail("could not harden the process");

    CK_FUNCTION_LIST* module = load_module(fd, argv[3]);
    if (!install_syscall_filter()) {
        send_hello(fd, CKR_GENERAL_ERROR,
                   std::string("the helper could not install its seccomp filter: ") +
                       std::strerror(errno));
        std::_Exit(1);
    }
    send_hello(fd, CKR_OK, "");

    CallServer server(fd, module, kMaxInFlight);
    if (server.serve() == 0)
        module->C_Finalize(nullptr);
    std::_Exit(0);
}
