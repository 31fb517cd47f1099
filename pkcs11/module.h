#pragma once

// A PKCS#11 module: its slots, tokens and mechanisms, and the sessions it opens.

#include <p11-kit/pkcs11.h>

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pkcs11/library.h"
#include "pkcs11/module_helper/helper_options.h"
#include "pkcs11/result.h"
#include "pkcs11/secret.h"
#include "pkcs11/session.h"
#include "pkcs11/token_info.h"

namespace attache::p11 {

// p11-kit's proxy module: every module registered on the system (OpenSC for real cards).
inline constexpr const char* kP11KitProxy = "p11-kit-proxy.so";

class Module {
  public:
    // `spec` is a path (contains a '/'), a file name in p11-kit's module directory
    // ("opensc-pkcs11.so", "p11-kit-proxy.so"), or the name of a module registered with p11-kit
    // ("opensc-pkcs11" on Debian 12, from /usr/share/p11-kit/modules/opensc-pkcs11.module).
    static Result<Module> load(const std::string& spec);

    // Resolves `spec` as load() does and loads the module in its own helper process
    // (attache-module-helper, started with options.environment as its whole environment).
    // Everything built on this Module and its Sessions then runs in the helper; a crash or
    // hang there costs this Module only (see alive()). Each call starts a new helper.
    static Result<Module> start_helper(const std::string& spec, const HelperOptions& options);
    // The helper next to this executable (/proc/self/exe), else the installed one
    // (LIBEXECDIR/attache/attache-module-helper).
    static std::string default_helper_path();

    // In-process: always true. In a helper: false once the helper stopped (exited, crashed,
    // killed after overrunning call_timeout); every call then returns CKR_DEVICE_ERROR.
    bool alive() const { return lib_->alive(); }
    // Why the helper stopped, e.g. "the module's helper process was killed by signal 6
    // (SIGABRT) in C_Sign"; empty while alive (and always in-process).
    std::string stop_reason() const { return lib_->stop_reason(); }
    // Called once, from a helper-watching thread, when the helper stops (at once, from this
    // thread, if it already has). In-process: never called.
    void on_stop(std::function<void(const std::string& reason)> callback) const {
        lib_->on_stop(std::move(callback));
    }
    // The helper's process id; 0 in-process.
    pid_t helper_pid() const { return lib_->helper_pid(); }
    // Calls this Module's helper was sent so far, by name ("C_Sign", "C_SignInit+C_Sign"):
    // what a test observes of the helper's traffic. Empty in-process.
    std::map<std::string, std::uint64_t> helper_call_counts() const {
        return lib_->helper_call_counts();
    }

    // Resolves `spec` as load() does, without loading anything: the library's path.
    static Result<std::string> resolve(const std::string& spec);

    CK_FUNCTION_LIST* fn() const { return lib_->fn(); }
    const std::string& path() const { return lib_->path(); }

    Result<CK_INFO> info() const;
    Result<std::vector<CK_SLOT_ID>> slots(bool with_token_only) const;
    Result<SlotInfo> slot_info(CK_SLOT_ID slot) const;
    Result<TokenInfo> token_info(CK_SLOT_ID slot) const;
    Result<std::vector<CK_MECHANISM_TYPE>> mechanisms(CK_SLOT_ID slot) const;
    Result<CK_MECHANISM_INFO> mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type) const;
    // Blocks (or not, with dont_block) until a slot event; returns the slot.
    Result<CK_SLOT_ID> wait_for_slot_event(bool dont_block) const;

    Result<Session> open_session(CK_SLOT_ID slot, bool read_write = false) const;
    // C_CloseAllSessions: every session of this process on the slot; the login ends with them.
    // Session objects still holding one of those handles must be abandon()ed, not closed.
    Status close_all_sessions(CK_SLOT_ID slot) const;

    // C_InitToken: wipes the token. The label is padded to 32 bytes.
    Status init_token(CK_SLOT_ID slot, const Secret& so_pin, const std::string& label) const;

  private:
    explicit Module(std::shared_ptr<Library> lib) : lib_(std::move(lib)) {}
    std::shared_ptr<Library> lib_;
};

}  // namespace attache::p11
