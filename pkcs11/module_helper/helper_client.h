#pragma once

// The agent's side of one helper process: starts attache-module-helper on a socketpair, hands
// out a CK_FUNCTION_LIST whose functions marshal every call to it, multiplexes calls from
// several threads by call id, and notices at once when the helper stops (socket EOF, waitpid)
// or overruns the call timeout (then kills it). Destruction ends and reaps the helper.

#include <p11-kit/pkcs11.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "pkcs11/module_helper/combined_calls.h"
#include "pkcs11/module_helper/helper_options.h"
#include "pkcs11/result.h"

namespace attache::p11::module_helper {

class HelperConnection;

class HelperClient final : public CombinedCalls {
  public:
    // Starts the helper for the module at `module_path` and waits for its C_Initialize.
    static Result<std::unique_ptr<HelperClient>> start(const std::string& module_path,
                                                       const HelperOptions& options);
    ~HelperClient() override;
    HelperClient(const HelperClient&) = delete;
    HelperClient& operator=(const HelperClient&) = delete;

    // Valid while this object lives; every function answers CKR_DEVICE_ERROR once stopped.
    CK_FUNCTION_LIST* functions() const { return functions_; }
    bool alive() const;
    std::string stop_reason() const;
    void on_stop(std::function<void(const std::string& reason)> callback) const;
    pid_t pid() const;
    // Calls sent to the helper so far, by call name ("C_Sign", "C_SignInit+C_Sign").
    std::map<std::string, std::uint64_t> call_counts() const;

    CK_RV sign_init_and_sign(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                             CK_OBJECT_HANDLE key, CK_BYTE_PTR data, CK_ULONG length,
                             CK_BYTE_PTR out, CK_ULONG_PTR out_length,
                             CallStage* stage) const override;
    CK_RV decrypt_init_and_decrypt(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                                   CK_OBJECT_HANDLE key, CK_BYTE_PTR data, CK_ULONG length,
                                   CK_BYTE_PTR out, CK_ULONG_PTR out_length,
                                   CallStage* stage) const override;

  private:
    HelperClient() = default;

    std::shared_ptr<HelperConnection> connection_;
    CK_FUNCTION_LIST* functions_ = nullptr;
    size_t table_slot_ = 0;
};

}  // namespace attache::p11::module_helper
