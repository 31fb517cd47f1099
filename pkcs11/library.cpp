#include "pkcs11/library.h"

#include <dlfcn.h>

#include "pkcs11/module_helper/helper_client.h"

#include <condition_variable>
#include <map>
#include <mutex>

namespace attache::p11 {
namespace {

// Process-wide registry of loaded libraries, keyed by dlopen handle. Never destroyed: a
// static destructor could run after a module's own atexit handlers.
struct Registry {
    std::recursive_mutex mutex;
    // Signalled when a Library has finalised and left `loaded`.
    std::condition_variable_any released;
    std::map<void*, std::weak_ptr<Library>> loaded;
};

Registry& registry() {
    static Registry& r = *new Registry;
    return r;
}

}  // namespace

Library::Library() = default;

Result<std::shared_ptr<Library>> Library::start_helper(const std::string& path,
                                                       const HelperOptions& options) {
    ATTACHE_TRY(auto client, module_helper::HelperClient::start(path, options));
    std::shared_ptr<Library> lib(new Library);
    lib->functions_ = client->functions();
    lib->path_ = path;
    lib->helper_ = std::move(client);
    return lib;
}

bool Library::alive() const {
    return !helper_ || helper_->alive();
}

std::string Library::stop_reason() const {
    return helper_ ? helper_->stop_reason() : std::string();
}

void Library::on_stop(std::function<void(const std::string& reason)> callback) const {
    if (helper_)
        helper_->on_stop(std::move(callback));
}

pid_t Library::helper_pid() const {
    return helper_ ? helper_->pid() : 0;
}

const module_helper::CombinedCalls* Library::combined_calls() const {
    return helper_.get();
}

std::map<std::string, std::uint64_t> Library::helper_call_counts() const {
    return helper_ ? helper_->call_counts() : std::map<std::string, std::uint64_t>();
}

Result<std::shared_ptr<Library>> Library::load(const std::string& path) {
    Registry& reg = registry();
    std::lock_guard lock(reg.mutex);

    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        return Error("cannot load PKCS#11 module " + path + ": " + (why ? why : "dlopen failed"));
    }
    if (auto it = reg.loaded.find(handle); it != reg.loaded.end()) {
        if (auto existing = it->second.lock()) {
            dlclose(handle);  // drop the extra reference this dlopen took
            return existing;
        }
    }
    // The last owner of this module may be finalising it right now (its destructor waits for
    // the lock we hold): wait until it is done, or our C_Initialize would be undone.
    std::unique_lock wait_lock(reg.mutex, std::adopt_lock);
    reg.released.wait(wait_lock, [&] { return reg.loaded.count(handle) == 0; });
    wait_lock.release();

    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
    if (get_list == nullptr) {
        dlclose(handle);
        return Error("cannot load PKCS#11 module " + path +
                     ": it does not export C_GetFunctionList");
    }
    CK_FUNCTION_LIST* functions = nullptr;
    if (CK_RV rv = get_list(&functions); rv != CKR_OK || functions == nullptr) {
        dlclose(handle);
        return Error::pkcs11(rv == CKR_OK ? CKR_GENERAL_ERROR : rv, "C_GetFunctionList", path);
    }

    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = functions->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        dlclose(handle);
        return Error::pkcs11(rv, "C_Initialize", path);
    }

    std::shared_ptr<Library> lib(new Library);
    lib->handle_ = handle;
    lib->functions_ = functions;
    lib->finalize_ = (rv == CKR_OK);
    lib->path_ = path;
    reg.loaded[handle] = lib;
    return lib;
}

Library::~Library() {
    if (helper_) {
        helper_.reset();  // ends and reaps the helper; nothing was loaded here
        return;
    }
    Registry& reg = registry();
    std::lock_guard lock(reg.mutex);
    if (finalize_) {
        functions_->C_Finalize(nullptr);
    }
    auto it = reg.loaded.find(handle_);
    if (it != reg.loaded.end() && it->second.expired()) {
        reg.loaded.erase(it);
    }
    dlclose(handle_);
    reg.released.notify_all();
}

}  // namespace attache::p11
