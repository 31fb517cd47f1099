#include "tests/faulttoken/module/real_module.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "tests/faulttoken/module/c_boundary.h"

namespace attache::faulttoken {
namespace {

std::atomic<const CK_FUNCTION_LIST*> loaded_functions{nullptr};

std::mutex& load_mutex() {
    static std::mutex& mutex = *new std::mutex;
    return mutex;
}

[[noreturn]] void fail_to_load(const char* path, const char* why) {
    std::fprintf(stderr, "attache-faulttoken: cannot load %s: %s\n", path, why);
    throw RvError{CKR_GENERAL_ERROR};
}

const CK_FUNCTION_LIST* load_functions(const char* path) {
    void* library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        fail_to_load(path, dlerror());
    }
    auto get_function_list =
        reinterpret_cast<CK_C_GetFunctionList>(dlsym(library, "C_GetFunctionList"));
    if (get_function_list == nullptr) {
        fail_to_load(path, "no C_GetFunctionList");
    }
    CK_FUNCTION_LIST* functions = nullptr;
    if (get_function_list(&functions) != CKR_OK || functions == nullptr) {
        fail_to_load(path, "C_GetFunctionList failed");
    }
    return functions;
}

}  // namespace

const CK_FUNCTION_LIST& load_real_module() {
    if (const CK_FUNCTION_LIST* functions = loaded_functions.load()) {
        return *functions;
    }
    std::lock_guard lock(load_mutex());
    if (const CK_FUNCTION_LIST* functions = loaded_functions.load()) {
        return *functions;
    }
    const char* path = std::getenv(kRealModuleVariable);
    const CK_FUNCTION_LIST* functions = load_functions(path && *path ? path : kDefaultRealModule);
    loaded_functions.store(functions);
    return *functions;
}

const CK_FUNCTION_LIST& real_module() {
    const CK_FUNCTION_LIST* functions = loaded_functions.load();
    if (functions == nullptr) {
        throw RvError{CKR_CRYPTOKI_NOT_INITIALIZED};
    }
    return *functions;
}

}  // namespace attache::faulttoken
