#pragma once

// An open PKCS#11 session (closed on destruction) and what is done with one: login, objects,
// attributes, random. Cryptographic operations are in operations.h, key generation in keygen.h.
//
// Destruction closes the session only. It never logs out: a login belongs to the token, and
// logging out here would log out every other session of this process.

#include <p11-kit/pkcs11.h>

#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "pkcs11/attribute_template.h"
#include "pkcs11/attribute_values.h"
#include "pkcs11/bytes.h"
#include "pkcs11/library.h"
#include "pkcs11/limits.h"
#include "pkcs11/result.h"
#include "pkcs11/secret.h"

namespace attache::p11 {

class Session {
  public:
    Session(std::shared_ptr<Library> lib, CK_SLOT_ID slot, CK_SESSION_HANDLE handle)
        : lib_(std::move(lib)), slot_(slot), handle_(handle) {}
    ~Session();
    Session(Session&& other) noexcept;
    Session& operator=(Session&& other) noexcept;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    CK_SESSION_HANDLE handle() const { return handle_; }
    CK_SLOT_ID slot() const { return slot_; }
    CK_FUNCTION_LIST* fn() const { return lib_->fn(); }
    // A helper-backed module's one-round-trip Init-and-operation calls; null in-process.
    const module_helper::CombinedCalls* combined_calls() const { return lib_->combined_calls(); }

    // One C_Login, never retried. `pin` null: the token's protected authentication path (PIN
    // pad) collects the PIN. CKR_USER_ALREADY_LOGGED_IN is an error like any other: the token
    // did not check the PIN, so it proves nothing about who is at the keyboard.
    Status login(CK_USER_TYPE user, const Secret* pin);
    Status logout();
    Result<CK_SESSION_INFO> info() const;
    // C_InitPIN (SO logged in): sets the user PIN. C_SetPIN: changes the logged-in user's PIN.
    Status init_pin(const Secret& new_pin);
    Status set_pin(const Secret& old_pin, const Secret& new_pin);

    // All objects matching the template (at most `max`).
    Result<std::vector<CK_OBJECT_HANDLE>> find(AttributeTemplate templ,
                                               size_t max = kMaxObjects) const;
    // Reads several attributes in two calls (sizes, then values). Attributes the object does not
    // have or keeps secret are absent from the result.
    Result<AttributeValues> read(CK_OBJECT_HANDLE object,
                                 std::span<const CK_ATTRIBUTE_TYPE> types) const;
    Result<AttributeValues> read(CK_OBJECT_HANDLE object,
                                 std::initializer_list<CK_ATTRIBUTE_TYPE> types) const {
        return read(object, std::span<const CK_ATTRIBUTE_TYPE>(types.begin(), types.size()));
    }
    // One attribute that must be present and readable.
    Result<Bytes> read_bytes(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const;

    Result<CK_OBJECT_HANDLE> create(AttributeTemplate templ);
    Status set_attributes(CK_OBJECT_HANDLE object, AttributeTemplate templ);
    Status destroy(CK_OBJECT_HANDLE object);

    Result<Bytes> random(size_t size) const;

    // Forgets the handle without C_CloseSession: for a session the module already closed
    // (C_CloseAllSessions), whose handle number it may hand out again.
    void abandon() noexcept { handle_ = CK_INVALID_HANDLE; }
    // True when the session's state is one of a logged-in user (CKS_R*_USER_FUNCTIONS).
    Result<bool> user_logged_in() const;

  private:
    void close() noexcept;

    std::shared_ptr<Library> lib_;
    CK_SLOT_ID slot_ = 0;
    CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
};

}  // namespace attache::p11
