#pragma once

// A loaded PKCS#11 module library: dlopen handle, function list and initialisation state.
// Shared by the Module and every Session opened from it, so the library stays loaded and
// initialised while any of them lives. One Library per dlopen handle per process: loading the
// same module twice yields the same Library, so C_Initialize and C_Finalize happen exactly once.

#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>

#include "pkcs11/result.h"

namespace attache::p11 {

class Library {
  public:
    ~Library();
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;

    // dlopens `path` (RTLD_NOW | RTLD_LOCAL), gets its function list and calls C_Initialize
    // with CKF_OS_LOCKING_OK. CKR_CRYPTOKI_ALREADY_INITIALIZED (another component of this process
    // initialised it) is accepted; then this Library will not finalise it either.
    static Result<std::shared_ptr<Library>> load(const std::string& path);

    CK_FUNCTION_LIST* fn() const { return functions_; }
    const std::string& path() const { return path_; }

  private:
    Library() = default;

    void* handle_ = nullptr;
    CK_FUNCTION_LIST* functions_ = nullptr;
    bool finalize_ = false;
    std::string path_;
};

}  // namespace attache::p11
