#pragma once

// A PKCS#11 module: its slots, tokens and mechanisms, and the sessions it opens.

#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>
#include <vector>

#include "pkcs11/library.h"
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
