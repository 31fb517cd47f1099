#include "pkcs11/module.h"

#include <p11-kit/p11-kit.h>

#include <cstring>
#include <filesystem>

#include "pkcs11/limits.h"
#include "pkcs11/size_query.h"

#ifndef ATTACHE_MODULE_HELPER_INSTALL_PATH
#define ATTACHE_MODULE_HELPER_INSTALL_PATH "/usr/local/libexec/attache/attache-module-helper"
#endif
#ifndef ATTACHE_P11KIT_MODULE_PATH
#define ATTACHE_P11KIT_MODULE_PATH "/usr/lib/x86_64-linux-gnu/pkcs11"
#endif
#ifndef ATTACHE_P11KIT_PROXY_PATH
#define ATTACHE_P11KIT_PROXY_PATH "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"
#endif

namespace attache::p11 {
namespace {

// Finds a module registered with p11-kit by its configured name. p11-kit reads the admin's
// module configs; loading the list dlopens the registered libraries but initialises none.
Result<std::string> registered_module_path(const std::string& name) {
    CK_FUNCTION_LIST** modules = p11_kit_modules_load(nullptr, P11_KIT_MODULE_UNMANAGED);
    if (modules == nullptr) {
        return Error("cannot read p11-kit's module registry: " +
                     std::string(p11_kit_message() ? p11_kit_message() : "unknown error"));
    }
    std::string found;
    for (CK_FUNCTION_LIST** m = modules; *m != nullptr; ++m) {
        char* mod_name = p11_kit_module_get_name(*m);
        if (mod_name != nullptr && name == mod_name) {
            if (char* file = p11_kit_module_get_filename(*m)) {
                found = file;
                free(file);
            }
        }
        free(mod_name);
    }
    p11_kit_modules_release(modules);
    if (found.empty()) {
        return Error("no PKCS#11 module named '" + name +
                     "' is registered with p11-kit (see `p11-kit list-modules`)");
    }
    return found;
}

}  // namespace

Result<std::string> Module::resolve(const std::string& spec) {
    if (spec.empty()) {
        return Error("empty PKCS#11 module name");
    }
    if (spec.find('/') != std::string::npos) {
        return spec;
    }
    if (spec == kP11KitProxy) {
        return std::string(ATTACHE_P11KIT_PROXY_PATH);
    }
    if (spec.ends_with(".so")) {
        return std::string(ATTACHE_P11KIT_MODULE_PATH) + "/" + spec;
    }
    return registered_module_path(spec);
}

Result<Module> Module::load(const std::string& spec) {
    ATTACHE_TRY(std::string path, resolve(spec));
    ATTACHE_TRY(auto lib, Library::load(path));
    return Module(std::move(lib));
}

Result<Module> Module::start_helper(const std::string& spec, const HelperOptions& options) {
    ATTACHE_TRY(std::string path, resolve(spec));
    ATTACHE_TRY(auto lib, Library::start_helper(path, options));
    return Module(std::move(lib));
}

std::string Module::default_helper_path() {
    std::error_code ec;
    std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        std::filesystem::path beside = self.parent_path() / "attache-module-helper";
        if (std::filesystem::exists(beside, ec))
            return beside.string();
    }
    return ATTACHE_MODULE_HELPER_INSTALL_PATH;
}

Result<CK_INFO> Module::info() const {
    CK_INFO info{};
    if (CK_RV rv = fn()->C_GetInfo(&info); rv != CKR_OK) {
        return Error::pkcs11(rv, "C_GetInfo", path());
    }
    return info;
}

Result<std::vector<CK_SLOT_ID>> Module::slots(bool with_token_only) const {
    auto r = query_sized<CK_SLOT_ID>(
        [&](CK_SLOT_ID* list, CK_ULONG* count) {
            return fn()->C_GetSlotList(with_token_only ? CK_TRUE : CK_FALSE, list, count);
        },
        kMaxSlots, "C_GetSlotList");
    if (!r)
        return std::move(r).error().context(path());
    return r;
}

Result<SlotInfo> Module::slot_info(CK_SLOT_ID slot) const {
    CK_SLOT_INFO raw{};
    if (CK_RV rv = fn()->C_GetSlotInfo(slot, &raw); rv != CKR_OK) {
        return Error::pkcs11(rv, "C_GetSlotInfo", "slot " + std::to_string(slot));
    }
    return to_slot_info(raw);
}

Result<TokenInfo> Module::token_info(CK_SLOT_ID slot) const {
    CK_TOKEN_INFO raw{};
    if (CK_RV rv = fn()->C_GetTokenInfo(slot, &raw); rv != CKR_OK) {
        return Error::pkcs11(rv, "C_GetTokenInfo", "slot " + std::to_string(slot));
    }
    return to_token_info(raw);
}

Result<std::vector<CK_MECHANISM_TYPE>> Module::mechanisms(CK_SLOT_ID slot) const {
    return query_sized<CK_MECHANISM_TYPE>(
        [&](CK_MECHANISM_TYPE* list, CK_ULONG* count) {
            return fn()->C_GetMechanismList(slot, list, count);
        },
        kMaxMechanisms, "C_GetMechanismList(slot " + std::to_string(slot) + ")");
}

Result<CK_MECHANISM_INFO> Module::mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type) const {
    CK_MECHANISM_INFO info{};
    if (CK_RV rv = fn()->C_GetMechanismInfo(slot, type, &info); rv != CKR_OK) {
        return Error::pkcs11(rv, "C_GetMechanismInfo", "slot " + std::to_string(slot));
    }
    return info;
}

Result<CK_SLOT_ID> Module::wait_for_slot_event(bool dont_block) const {
    CK_SLOT_ID slot = 0;
    CK_RV rv = fn()->C_WaitForSlotEvent(dont_block ? CKF_DONT_BLOCK : 0, &slot, nullptr);
    if (rv != CKR_OK)
        return Error::pkcs11(rv, "C_WaitForSlotEvent");
    return slot;
}

Result<Session> Module::open_session(CK_SLOT_ID slot, bool read_write) const {
    CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
    CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
    if (CK_RV rv = fn()->C_OpenSession(slot, flags, nullptr, nullptr, &handle); rv != CKR_OK) {
        return Error::pkcs11(rv, "C_OpenSession", "slot " + std::to_string(slot));
    }
    return Session(lib_, slot, handle);
}

Status Module::init_token(CK_SLOT_ID slot, const Secret& so_pin, const std::string& label) const {
    unsigned char padded[32];
    std::memset(padded, ' ', sizeof padded);
    std::memcpy(padded, label.data(), std::min(label.size(), sizeof padded));
    CK_RV rv =
        fn()->C_InitToken(slot, const_cast<unsigned char*>(so_pin.data()), so_pin.size(), padded);
    if (rv != CKR_OK)
        return Error::pkcs11(rv, "C_InitToken", "slot " + std::to_string(slot));
    return ok();
}

Status Module::close_all_sessions(CK_SLOT_ID slot) const {
    if (CK_RV rv = fn()->C_CloseAllSessions(slot); rv != CKR_OK)
        return Error::pkcs11(rv, "C_CloseAllSessions", "slot " + std::to_string(slot));
    return ok();
}

}  // namespace attache::p11
