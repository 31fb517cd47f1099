#pragma once

// The state of one initialised attache-pkcs11.so (from C_Initialize to C_Finalize) and the
// work behind every PKCS#11 call. Entry points reach it through globals.h.
//
// Locking: mutex_ guards slots, sessions and objects and is never held during a request to
// the agent. A session's own mutex is held for the whole of a call on that session (one call
// at a time per session; calls on different sessions run in parallel, each on its own agent
// connection). Order: a session's mutex, then mutex_.

#include <p11-kit/pkcs11.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "pkcs11/forwarding/agent_errors.h"
#include "pkcs11/forwarding/connection_pool.h"
#include "pkcs11/forwarding/key_objects.h"
#include "pkcs11/forwarding/mechanisms.h"
#include "pkcs11/forwarding/options.h"
#include "pkcs11/forwarding/sign_input.h"
#include "pkcs11/forwarding/slot_table.h"
#include "pkcs11/secret.h"

namespace attache::forwarding {

// Handles are never reused within a process, across C_Finalize and fork().
CK_ULONG next_handle();

class Module {
  public:
    Module(Options options, protocol::AgentEndpoint endpoint, SlotRegistry& registry);
    ~Module();
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // First contact with the agent; says so once when it is not running.
    void start();
    // C_Finalize: wakes C_WaitForSlotEvent.
    void shut_down();

    CK_RV get_slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count);
    CK_RV get_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info);
    CK_RV get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info);
    CK_RV wait_for_slot_event(CK_FLAGS flags, CK_SLOT_ID_PTR slot);
    CK_RV get_mechanism_list(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
    CK_RV get_mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);

    CK_RV open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR session);
    CK_RV close_session(CK_SESSION_HANDLE session);
    CK_RV close_all_sessions(CK_SLOT_ID slot);
    CK_RV get_session_info(CK_SESSION_HANDLE session, CK_SESSION_INFO_PTR info);
    CK_RV login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                CK_ULONG pin_len);
    CK_RV logout(CK_SESSION_HANDLE session);

    CK_RV find_objects_init(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR templ, CK_ULONG count);
    CK_RV find_objects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max,
                       CK_ULONG_PTR count);
    CK_RV find_objects_final(CK_SESSION_HANDLE session);
    CK_RV get_attribute_value(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                              CK_ATTRIBUTE_PTR templ, CK_ULONG count);
    CK_RV get_object_size(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ULONG_PTR size);
    CK_RV destroy_object(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object);
    // C_CreateObject, C_CopyObject, C_SetAttributeValue, key generation, wrapping...: the
    // session is checked, then the call is refused with `rv`.
    CK_RV refuse(CK_SESSION_HANDLE session, CK_RV rv);
    // C_SetAttributeValue and C_CopyObject (`copy`): checked like the card would, then
    // CKR_ACTION_PROHIBITED.
    CK_RV refuse_change(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR templ,
                        CK_ULONG count, bool copy, CK_OBJECT_HANDLE_PTR new_object);

    CK_RV sign_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key);
    CK_RV sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
               CK_BYTE_PTR signature, CK_ULONG_PTR signature_len);
    CK_RV sign_update(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len);
    CK_RV sign_final(CK_SESSION_HANDLE session, CK_BYTE_PTR signature, CK_ULONG_PTR signature_len);
    CK_RV verify_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key);
    CK_RV verify(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
                 CK_BYTE_PTR signature, CK_ULONG signature_len);
    CK_RV verify_update(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len);
    CK_RV verify_final(CK_SESSION_HANDLE session, CK_BYTE_PTR signature, CK_ULONG signature_len);
    CK_RV decrypt_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key);
    CK_RV decrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR out,
                  CK_ULONG_PTR out_len);
    CK_RV decrypt_update(CK_SESSION_HANDLE session);
    CK_RV derive_key(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE base,
                     CK_ATTRIBUTE_PTR templ, CK_ULONG count, CK_OBJECT_HANDLE_PTR key);
    // CKM_AES_KEY_WRAP(_PAD) with a derived session key only (key_unwrap.h says why).
    CK_RV unwrap_key(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                     CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
                     CK_ATTRIBUTE_PTR templ, CK_ULONG count, CK_OBJECT_HANDLE_PTR key);
    CK_RV generate_random(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG len);

  private:
    struct Object {
        CK_OBJECT_HANDLE handle = 0;
        CK_SLOT_ID slot = 0;
        CK_OBJECT_CLASS klass = CKO_DATA;
        bool is_private = false;
        std::string key_id;                        // token objects: the agent's key
        std::shared_ptr<const PublicKeyInfo> key;  // token objects
        uint32_t operations = 0;
        bool always_authenticate = false;  // private keys: the PIN before every use
        uint32_t decrypt_support = 0;      // protocol::DecryptSupport; 0: not known
        AttributeSet attributes;
        CK_SESSION_HANDLE owner = 0;  // session objects (derived keys): the creating session
        uint64_t login_epoch = 0;     // private token objects: the login view they belong to
    };
    using ObjectPtr = std::shared_ptr<const Object>;

    struct SignOperation {
        SignInput input;
        std::string key_id;
        CK_SLOT_ID slot = 0;
        bool verify = false;
        std::optional<Bytes> result;  // kept after CKR_BUFFER_TOO_SMALL from the agent's reply
        bool always_authenticate = false;
        // C_Login(CKU_CONTEXT_SPECIFIC)'s PIN, until the operation's one request takes it.
        std::shared_ptr<const Secret> context_pin;
    };
    struct DecryptOperation {
        DecryptSpec spec;
        std::string key_id;
        size_t modulus_bytes = 0;
        std::optional<Bytes> result;
        bool always_authenticate = false;
        std::shared_ptr<const Secret> context_pin;  // as in SignOperation
        DecryptOperation();
        ~DecryptOperation();
    };
    struct Session {
        CK_SESSION_HANDLE handle = 0;
        CK_SLOT_ID slot = 0;
        CK_FLAGS flags = 0;
        uint64_t generation = 0;
        uint64_t epoch = 0;
        std::mutex mutex;
        std::optional<std::vector<CK_OBJECT_HANDLE>> found;
        size_t found_pos = 0;
        std::optional<SignOperation> sign;
        std::optional<SignOperation> verify;
        std::optional<DecryptOperation> decrypt;
    };
    using SessionPtr = std::shared_ptr<Session>;
    using ObjectKey = std::tuple<CK_SLOT_ID, std::string, CK_OBJECT_CLASS>;

    // Runs fn(Session&) under the session's mutex, after the checks every session call makes.
    template <typename Fn>
    CK_RV with_session(CK_SESSION_HANDLE handle, Fn&& fn);
    CK_RV lookup_locked(CK_SESSION_HANDLE handle, SessionPtr& out);
    void check_epoch_locked();
    void drop_session_locked(CK_SESSION_HANDLE handle);
    void start_over_locked(SlotState& slot);
    CK_RV so_login_locked(const Session& s);
    // C_Login(CKU_CONTEXT_SPECIFIC): the PIN for the session's active sign or decrypt.
    CK_RV context_login(Session& s, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);

    // Requests. Each returns the reply of type T or sets `outcome`.
    template <typename T>
    std::optional<T> request(const protocol::Request& r, Call call, uint64_t epoch, Outcome& o,
                             bool may_retry = true);
    // Applies what an error means to the session's slot (token locked, removed) and logs it.
    CK_RV fail(const Outcome& o, const Session& s);

    // Refreshes slots from the agent's status. False when the agent cannot be reached.
    bool refresh_status();
    // Refreshes the token objects from the agent's key list.
    bool refresh_keys();
    std::vector<KeySummary> key_summaries_locked(CK_SLOT_ID slot) const;
    // Publishes one token object of the key list under its stable handle (a new one for a
    // private key in a new login view); `changed`: the key's objects were rebuilt.
    void publish_locked(const SlotState& slot, const std::string& id, const ObjectSpec& spec,
                        const std::shared_ptr<const KeyObjects>& built,
                        const std::shared_ptr<const PublicKeyInfo>& key, bool changed,
                        std::set<ObjectKey>& live);
    // The object behind `handle` as the session sees it: CKR_OBJECT_HANDLE_INVALID otherwise.
    CK_RV visible_object_locked(const Session& s, CK_OBJECT_HANDLE handle, ObjectPtr& out,
                                CK_RV invalid = CKR_OBJECT_HANDLE_INVALID);
    // A private object is visible in the current login view of its slot.
    bool private_visible_locked(const Object& o);
    // PKCS#11 allows one active operation per session (find, sign, verify, decrypt) unless a
    // dual-function pair is used, which the module does not offer.
    static bool operation_active(const Session& s) {
        return s.found || s.sign || s.verify || s.decrypt;
    }
    // A new secret key object of this session (derived or unwrapped).
    CK_RV store_session_key(const Session& s, AttributeSet attributes, CK_OBJECT_HANDLE_PTR key);
    CK_RV key_for_operation(Session& s, CK_OBJECT_HANDLE handle, CK_OBJECT_CLASS klass,
                            uint32_t operation, ObjectPtr& out);
    CK_RV sign_like_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                         CK_OBJECT_HANDLE key, bool verify);
    CK_RV run_sign(Session& s, SignOperation& op, Bytes input, CK_BYTE_PTR signature,
                   CK_ULONG_PTR signature_len);

    const Options options_;
    ConnectionPool pool_;

    std::mutex mutex_;
    std::condition_variable events_;
    bool shutting_down_ = false;
    uint64_t seen_epoch_ = 0;
    SlotTable slots_;
    std::map<CK_SESSION_HANDLE, SessionPtr> sessions_;
    std::map<CK_OBJECT_HANDLE, ObjectPtr> objects_;
    std::map<ObjectKey, CK_OBJECT_HANDLE> token_handles_;
    struct CachedKey {
        protocol::KeyEntry entry;
        std::shared_ptr<const KeyObjects> built;
        std::shared_ptr<const PublicKeyInfo> key;
    };
    std::map<std::pair<CK_SLOT_ID, std::string>, CachedKey> key_cache_;
    bool slot_list_counted_ = false;  // C_GetSlotList's size query refreshed the slots
    std::string last_error_;
};

template <typename Fn>
CK_RV Module::with_session(CK_SESSION_HANDLE handle, Fn&& fn) {
    SessionPtr s;
    {
        std::lock_guard lock(mutex_);
        if (CK_RV rv = lookup_locked(handle, s); rv != CKR_OK)
            return rv;
    }
    std::lock_guard session_lock(s->mutex);
    return fn(*s);
}

}  // namespace attache::forwarding
