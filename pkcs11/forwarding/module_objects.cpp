// Module: finding objects, reading their attributes, and what may not be done to them.

#include "pkcs11/forwarding/log.h"
#include "pkcs11/forwarding/module.h"

namespace attache::forwarding {

CK_RV Module::visible_object_locked(const Session& s, CK_OBJECT_HANDLE handle, ObjectPtr& out,
                                    CK_RV invalid) {
    auto it = objects_.find(handle);
    if (it == objects_.end() || it->second->slot != s.slot)
        return invalid;
    if (it->second->is_private && !private_visible_locked(*it->second))
        return invalid;
    out = it->second;
    return CKR_OK;
}

bool Module::private_visible_locked(const Object& o) {
    const SlotState* slot = slots_.find(o.slot);
    if (slot == nullptr || !slot->logged_in)
        return false;
    // Token objects belong to one login view; derived keys to their session.
    return o.owner != 0 || o.login_epoch == slot->login_epoch;
}

CK_RV Module::find_objects_init(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR templ, CK_ULONG count) {
    if (templ == nullptr && count > 0)
        return CKR_ARGUMENTS_BAD;
    return with_session(session, [&](Session& s) -> CK_RV {
        if (operation_active(s))
            return CKR_OPERATION_ACTIVE;
        bool user = false;
        {
            std::lock_guard lock(mutex_);
            const SlotState* slot = slots_.find(s.slot);
            user = slot != nullptr && slot->logged_in;
        }
        // Private objects are listed only while the agent is still unlocked: a status
        // request when the answer matters (a lock from outside ends the view).
        if (user)
            refresh_status();
        refresh_keys();
        std::lock_guard lock(mutex_);
        std::vector<CK_OBJECT_HANDLE> found;
        for (const auto& [handle, object] : objects_) {
            if (object->slot != s.slot || (object->is_private && !private_visible_locked(*object)))
                continue;
            if (object->attributes.matches(templ, count))
                found.push_back(handle);
        }
        s.found = std::move(found);
        s.found_pos = 0;
        return CKR_OK;
    });
}

CK_RV Module::find_objects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max,
                           CK_ULONG_PTR count) {
    if (count == nullptr || (objects == nullptr && max > 0))
        return CKR_ARGUMENTS_BAD;
    return with_session(session, [&](Session& s) -> CK_RV {
        if (!s.found)
            return CKR_OPERATION_NOT_INITIALIZED;
        CK_ULONG n = 0;
        while (n < max && s.found_pos < s.found->size())
            objects[n++] = (*s.found)[s.found_pos++];
        *count = n;
        return CKR_OK;
    });
}

CK_RV Module::find_objects_final(CK_SESSION_HANDLE session) {
    return with_session(session, [&](Session& s) -> CK_RV {
        if (!s.found)
            return CKR_OPERATION_NOT_INITIALIZED;
        s.found.reset();
        return CKR_OK;
    });
}

CK_RV Module::get_attribute_value(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                                  CK_ATTRIBUTE_PTR templ, CK_ULONG count) {
    if (templ == nullptr && count > 0)
        return CKR_ARGUMENTS_BAD;
    return with_session(session, [&](Session& s) -> CK_RV {
        ObjectPtr o;
        {
            std::lock_guard lock(mutex_);
            if (CK_RV rv = visible_object_locked(s, object, o); rv != CKR_OK)
                return rv;
        }
        return o->attributes.read(templ, count);
    });
}

CK_RV Module::get_object_size(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                              CK_ULONG_PTR size) {
    if (size == nullptr)
        return CKR_ARGUMENTS_BAD;
    return with_session(session, [&](Session& s) -> CK_RV {
        std::lock_guard lock(mutex_);
        ObjectPtr o;
        if (CK_RV rv = visible_object_locked(s, object, o); rv != CKR_OK)
            return rv;
        *size = CK_UNAVAILABLE_INFORMATION;
        return CKR_OK;
    });
}

CK_RV Module::destroy_object(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
    return with_session(session, [&](Session& s) -> CK_RV {
        std::lock_guard lock(mutex_);
        ObjectPtr o;
        if (CK_RV rv = visible_object_locked(s, object, o); rv != CKR_OK)
            return rv;
        // The card's objects are the admin CLI's to change; a derived secret is the
        // application's own.
        if (o->owner == 0)
            return CKR_ACTION_PROHIBITED;
        objects_.erase(object);
        return CKR_OK;
    });
}

CK_RV Module::refuse_change(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                            CK_ATTRIBUTE_PTR templ, CK_ULONG count, bool copy,
                            CK_OBJECT_HANDLE_PTR new_object) {
    return with_session(session, [&](Session& s) -> CK_RV {
        // The standard's order: arguments, then the object, then what may be done to it.
        if ((templ == nullptr && count > 0) || (copy && new_object == nullptr))
            return CKR_ARGUMENTS_BAD;
        std::lock_guard lock(mutex_);
        ObjectPtr o;
        if (CK_RV rv = visible_object_locked(s, object, o); rv != CKR_OK)
            return rv;
        // Every object is CKA_MODIFIABLE and CKA_COPYABLE false: the card's objects are the
        // admin CLI's to change, a derived secret is fixed once made.
        return CKR_ACTION_PROHIBITED;
    });
}

CK_RV Module::refuse(CK_SESSION_HANDLE session, CK_RV rv) {
    return with_session(session, [&](Session&) { return rv; });
}

}  // namespace attache::forwarding
