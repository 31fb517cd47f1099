#include "pkcs11/session.h"

#include <utility>

#include "pkcs11/size_query.h"

namespace attache::p11 {
namespace {

std::string object_name(CK_OBJECT_HANDLE object) {
    return "object " + std::to_string(object);
}

// Ends a search however the caller leaves the loop.
class FindGuard {
  public:
    FindGuard(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session) : fn_(fn), session_(session) {}
    ~FindGuard() { fn_->C_FindObjectsFinal(session_); }
    FindGuard(const FindGuard&) = delete;
    FindGuard& operator=(const FindGuard&) = delete;

  private:
    CK_FUNCTION_LIST* fn_;
    CK_SESSION_HANDLE session_;
};

}  // namespace

Session::~Session() {
    close();
}

Session::Session(Session&& other) noexcept
    : lib_(std::move(other.lib_)),
      slot_(other.slot_),
      handle_(std::exchange(other.handle_, CK_INVALID_HANDLE)) {}

Session& Session::operator=(Session&& other) noexcept {
    if (this != &other) {
        close();
        lib_ = std::move(other.lib_);
        slot_ = other.slot_;
        handle_ = std::exchange(other.handle_, CK_INVALID_HANDLE);
    }
    return *this;
}

void Session::close() noexcept {
    if (handle_ != CK_INVALID_HANDLE && lib_) {
        lib_->fn()->C_CloseSession(handle_);
    }
    handle_ = CK_INVALID_HANDLE;
}

Status Session::login(CK_USER_TYPE user, const Secret* pin) {
    CK_UTF8CHAR* pin_data = pin ? const_cast<CK_UTF8CHAR*>(pin->data()) : nullptr;
    CK_ULONG pin_len = pin ? pin->size() : 0;
    CK_RV rv = fn()->C_Login(handle_, user, pin_data, pin_len);
    if (rv != CKR_OK) {
        return Error::pkcs11(rv, "C_Login", "slot " + std::to_string(slot_));
    }
    return ok();
}

Status Session::logout() {
    CK_RV rv = fn()->C_Logout(handle_);
    if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN) {
        return Error::pkcs11(rv, "C_Logout", "slot " + std::to_string(slot_));
    }
    return ok();
}

Result<CK_SESSION_INFO> Session::info() const {
    CK_SESSION_INFO info{};
    if (CK_RV rv = fn()->C_GetSessionInfo(handle_, &info); rv != CKR_OK) {
        return Error::pkcs11(rv, "C_GetSessionInfo");
    }
    return info;
}

Result<bool> Session::user_logged_in() const {
    ATTACHE_TRY(CK_SESSION_INFO i, info());
    return i.state == CKS_RO_USER_FUNCTIONS || i.state == CKS_RW_USER_FUNCTIONS;
}

Status Session::init_pin(const Secret& new_pin) {
    CK_RV rv = fn()->C_InitPIN(handle_, const_cast<CK_UTF8CHAR*>(new_pin.data()), new_pin.size());
    if (rv != CKR_OK)
        return Error::pkcs11(rv, "C_InitPIN", "slot " + std::to_string(slot_));
    return ok();
}

Status Session::set_pin(const Secret& old_pin, const Secret& new_pin) {
    CK_RV rv = fn()->C_SetPIN(handle_, const_cast<CK_UTF8CHAR*>(old_pin.data()), old_pin.size(),
                              const_cast<CK_UTF8CHAR*>(new_pin.data()), new_pin.size());
    if (rv != CKR_OK)
        return Error::pkcs11(rv, "C_SetPIN", "slot " + std::to_string(slot_));
    return ok();
}

Result<std::vector<CK_OBJECT_HANDLE>> Session::find(AttributeTemplate templ, size_t max) const {
    if (CK_RV rv = fn()->C_FindObjectsInit(handle_, templ.data(), templ.size()); rv != CKR_OK) {
        return Error::pkcs11(rv, "C_FindObjectsInit");
    }
    FindGuard guard(fn(), handle_);
    std::vector<CK_OBJECT_HANDLE> found;
    CK_OBJECT_HANDLE batch[64];
    while (found.size() < max) {
        CK_ULONG count = 0;
        if (CK_RV rv = fn()->C_FindObjects(handle_, batch, 64, &count); rv != CKR_OK) {
            return Error::pkcs11(rv, "C_FindObjects");
        }
        if (count == 0)
            break;
        if (count > 64)
            return Error("C_FindObjects: module returned more handles than asked");
        found.insert(found.end(), batch, batch + count);
    }
    if (found.size() > max)
        found.resize(max);
    return found;
}

Result<AttributeValues> Session::read(CK_OBJECT_HANDLE object,
                                      std::span<const CK_ATTRIBUTE_TYPE> types) const {
    std::vector<CK_ATTRIBUTE> query;
    query.reserve(types.size());
    for (CK_ATTRIBUTE_TYPE t : types)
        query.push_back(CK_ATTRIBUTE{t, nullptr, 0});

    auto acceptable = [](CK_RV rv) {
        // Per attribute, ulValueLen is CK_UNAVAILABLE_INFORMATION for the ones in question.
        return rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID;
    };
    CK_RV rv = fn()->C_GetAttributeValue(handle_, object, query.data(), query.size());
    if (!acceptable(rv))
        return Error::pkcs11(rv, "C_GetAttributeValue", object_name(object));

    std::vector<CK_ATTRIBUTE> fetch;
    std::vector<Bytes> buffers;
    buffers.reserve(query.size());
    AttributeValues values;
    for (const CK_ATTRIBUTE& a : query) {
        if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
            continue;
        if (a.ulValueLen > kMaxAttributeSize) {
            return Error("C_GetAttributeValue(" + object_name(object) + "): attribute " +
                         std::to_string(a.type) + " claims " + std::to_string(a.ulValueLen) +
                         " bytes, over the limit");
        }
        if (a.ulValueLen == 0) {
            values.set(a.type, {});
            continue;
        }
        buffers.emplace_back(a.ulValueLen);
        fetch.push_back(CK_ATTRIBUTE{a.type, buffers.back().data(), a.ulValueLen});
    }
    if (fetch.empty())
        return values;

    rv = fn()->C_GetAttributeValue(handle_, object, fetch.data(), fetch.size());
    if (!acceptable(rv))
        return Error::pkcs11(rv, "C_GetAttributeValue", object_name(object));
    for (size_t i = 0; i < fetch.size(); ++i) {
        const CK_ATTRIBUTE& a = fetch[i];
        if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > buffers[i].size()) {
            continue;
        }
        buffers[i].resize(a.ulValueLen);
        values.set(a.type, std::move(buffers[i]));
    }
    return values;
}

Result<Bytes> Session::read_bytes(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const {
    auto r = query_sized<uint8_t>(
        [&](uint8_t* buf, CK_ULONG* len) {
            CK_ATTRIBUTE a{type, buf, *len};
            CK_RV rv = fn()->C_GetAttributeValue(handle_, object, &a, 1);
            *len = a.ulValueLen;
            if (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
                return static_cast<CK_RV>(CKR_ATTRIBUTE_TYPE_INVALID);
            }
            return rv;
        },
        kMaxAttributeSize, "C_GetAttributeValue(" + object_name(object) + ")");
    return r;
}

Result<CK_OBJECT_HANDLE> Session::create(AttributeTemplate templ) {
    CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
    if (CK_RV rv = fn()->C_CreateObject(handle_, templ.data(), templ.size(), &object);
        rv != CKR_OK) {
        return Error::pkcs11(rv, "C_CreateObject");
    }
    return object;
}

Status Session::set_attributes(CK_OBJECT_HANDLE object, AttributeTemplate templ) {
    if (CK_RV rv = fn()->C_SetAttributeValue(handle_, object, templ.data(), templ.size());
        rv != CKR_OK) {
        return Error::pkcs11(rv, "C_SetAttributeValue", object_name(object));
    }
    return ok();
}

Status Session::destroy(CK_OBJECT_HANDLE object) {
    if (CK_RV rv = fn()->C_DestroyObject(handle_, object); rv != CKR_OK) {
        return Error::pkcs11(rv, "C_DestroyObject", object_name(object));
    }
    return ok();
}

Result<Bytes> Session::random(size_t size) const {
    if (size > kMaxOutputSize)
        return Error("C_GenerateRandom: too many bytes asked");
    Bytes out(size);
    if (size == 0)
        return out;
    if (CK_RV rv = fn()->C_GenerateRandom(handle_, out.data(), size); rv != CKR_OK) {
        return Error::pkcs11(rv, "C_GenerateRandom");
    }
    return out;
}

}  // namespace attache::p11
