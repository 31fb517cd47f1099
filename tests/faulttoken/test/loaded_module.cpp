#include "tests/faulttoken/test/loaded_module.h"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

namespace attache::faulttoken::testing {

void* faulttoken_library() {
    static void* const library = [] {
        void* handle = dlopen(ATTACHE_FAULTTOKEN_PATH, RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            throw std::runtime_error(std::string("dlopen: ") + dlerror());
        }
        return handle;
    }();
    return library;
}

CK_FUNCTION_LIST* faulttoken_functions() {
    auto get_function_list =
        reinterpret_cast<CK_C_GetFunctionList>(dlsym(faulttoken_library(), "C_GetFunctionList"));
    if (get_function_list == nullptr) {
        throw std::runtime_error("the module exports no C_GetFunctionList");
    }
    CK_FUNCTION_LIST* functions = nullptr;
    if (get_function_list(&functions) != CKR_OK || functions == nullptr) {
        throw std::runtime_error("C_GetFunctionList failed");
    }
    return functions;
}

}  // namespace attache::faulttoken::testing
