#include "pkcs11/forwarding/attribute_set.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace attache::forwarding {

AttributeSet::~AttributeSet() {
    if (secret_) {
        for (auto& [type, value] : values_) {
            if (!value.empty())
                OPENSSL_cleanse(value.data(), value.size());
        }
    }
}

Bytes* AttributeSet::slot_for(CK_ATTRIBUTE_TYPE type) {
    std::erase(sensitive_, type);
    for (auto& [t, v] : values_) {
        if (t == type)
            return &v;
    }
    values_.emplace_back(type, Bytes{});
    return &values_.back().second;
}

AttributeSet& AttributeSet::set_bytes(CK_ATTRIBUTE_TYPE type, Bytes value) {
    *slot_for(type) = std::move(value);
    return *this;
}

AttributeSet& AttributeSet::set_bool(CK_ATTRIBUTE_TYPE type, bool value) {
    return set_bytes(type, Bytes{static_cast<uint8_t>(value ? CK_TRUE : CK_FALSE)});
}

AttributeSet& AttributeSet::set_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
    Bytes b(sizeof value);
    std::memcpy(b.data(), &value, sizeof value);
    return set_bytes(type, std::move(b));
}

AttributeSet& AttributeSet::set_string(CK_ATTRIBUTE_TYPE type, std::string_view value) {
    return set_bytes(type, Bytes(value.begin(), value.end()));
}

AttributeSet& AttributeSet::set_sensitive(CK_ATTRIBUTE_TYPE type) {
    std::erase_if(values_, [&](const auto& v) { return v.first == type; });
    if (std::find(sensitive_.begin(), sensitive_.end(), type) == sensitive_.end())
        sensitive_.push_back(type);
    return *this;
}

const Bytes* AttributeSet::find(CK_ATTRIBUTE_TYPE type) const {
    for (const auto& [t, v] : values_) {
        if (t == type)
            return &v;
    }
    return nullptr;
}

bool AttributeSet::has(CK_ATTRIBUTE_TYPE type) const {
    return find(type) != nullptr || is_sensitive(type);
}

bool AttributeSet::flag(CK_ATTRIBUTE_TYPE type) const {
    const Bytes* v = find(type);
    return v != nullptr && v->size() == 1 && (*v)[0] == CK_TRUE;
}

bool AttributeSet::is_sensitive(CK_ATTRIBUTE_TYPE type) const {
    return std::find(sensitive_.begin(), sensitive_.end(), type) != sensitive_.end();
}

CK_RV AttributeSet::read(CK_ATTRIBUTE* templ, CK_ULONG count) const {
    CK_RV rv = CKR_OK;
    for (CK_ULONG i = 0; i < count; ++i) {
        CK_ATTRIBUTE& a = templ[i];
        if (is_sensitive(a.type)) {
            a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_ATTRIBUTE_SENSITIVE;
            continue;
        }
        const Bytes* v = find(a.type);
        if (v == nullptr) {
            a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_ATTRIBUTE_TYPE_INVALID;
            continue;
        }
        if (a.pValue == nullptr) {
            a.ulValueLen = v->size();
        } else if (a.ulValueLen >= v->size()) {
            if (!v->empty())
                std::memcpy(a.pValue, v->data(), v->size());
            a.ulValueLen = v->size();
        } else {
            a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
        }
    }
    return rv;
}

bool AttributeSet::matches(const CK_ATTRIBUTE* templ, CK_ULONG count) const {
    for (CK_ULONG i = 0; i < count; ++i) {
        const CK_ATTRIBUTE& a = templ[i];
        const Bytes* v = find(a.type);
        if (v == nullptr || v->size() != a.ulValueLen)
            return false;
        if (a.ulValueLen > 0 &&
            (a.pValue == nullptr || std::memcmp(v->data(), a.pValue, a.ulValueLen) != 0)) {
            return false;
        }
    }
    return true;
}

bool AttributeSet::operator==(const AttributeSet& other) const {
    return values_ == other.values_ && sensitive_ == other.sensitive_;
}

bool template_bool(const CK_ATTRIBUTE& a, bool& out) {
    if (a.pValue == nullptr || a.ulValueLen != sizeof(CK_BBOOL))
        return false;
    CK_BBOOL b;
    std::memcpy(&b, a.pValue, sizeof b);
    out = b != CK_FALSE;
    return true;
}

bool template_ulong(const CK_ATTRIBUTE& a, CK_ULONG& out) {
    if (a.pValue == nullptr || a.ulValueLen != sizeof(CK_ULONG))
        return false;
    std::memcpy(&out, a.pValue, sizeof out);
    return true;
}

}  // namespace attache::forwarding
