#pragma once

// A loaded PKCS#11 module library: dlopen handle, function list and initialisation state.
// Shared by the Module and every Session opened from it, so the library stays loaded and
// initialised while any of them lives. One Library per dlopen handle per process: loading the
// same module twice yields the same Library, so C_Initialize and C_Finalize happen exactly once.
//
// A Library may instead stand for a module loaded in a helper process (start_helper): its
// function list then marshals every call to the helper (pkcs11/module_helper/), and the
// destructor ends the helper. Each such Library has its own helper.

#include <p11-kit/pkcs11.h>

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "pkcs11/module_helper/helper_options.h"
#include "pkcs11/result.h"

namespace attache::p11 {

namespace module_helper {
class CombinedCalls;
class HelperClient;
}  // namespace module_helper

class Library {
  public:
    ~Library();
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;

    // dlopens `path` (RTLD_NOW | RTLD_LOCAL), gets its function list and calls C_Initialize
    // with CKF_OS_LOCKING_OK. CKR_CRYPTOKI_ALREADY_INITIALIZED (another component of this process
    // initialised it) is accepted; then this Library will not finalise it either.
    static Result<std::shared_ptr<Library>> load(const std::string& path);
    // Starts a helper process that loads `path` and initialises it.
    static Result<std::shared_ptr<Library>> start_helper(const std::string& path,
                                                         const HelperOptions& options);

    CK_FUNCTION_LIST* fn() const { return functions_; }
    const std::string& path() const { return path_; }

    // See Module: in-process, alive() is always true and the rest empty.
    bool alive() const;
    std::string stop_reason() const;
    void on_stop(std::function<void(const std::string& reason)> callback) const;
    pid_t helper_pid() const;
    // The helper's one-round-trip calls; null in-process.
    const module_helper::CombinedCalls* combined_calls() const;
    // Calls sent to the helper so far, by name ("C_Sign", "C_SignInit+C_Sign"); empty in-process.
    std::map<std::string, std::uint64_t> helper_call_counts() const;

  private:
    Library();

    void* handle_ = nullptr;
    CK_FUNCTION_LIST* functions_ = nullptr;
    bool finalize_ = false;
    std::string path_;
    std::unique_ptr<module_helper::HelperClient> helper_;
};

}  // namespace attache::p11
