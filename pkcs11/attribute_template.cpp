#include "pkcs11/attribute_template.h"

#include <cstring>

namespace attache::p11 {

AttributeTemplate& AttributeTemplate::operator=(const AttributeTemplate& other) {
    if (this == &other)
        return *this;
    attributes_.clear();
    storage_.clear();
    for (const CK_ATTRIBUTE& a : other.attributes_) {
        add_bytes(a.type, a.pValue, a.ulValueLen);
    }
    return *this;
}

AttributeTemplate& AttributeTemplate::add_bool(CK_ATTRIBUTE_TYPE type, bool value) {
    CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
    return add_bytes(type, &b, sizeof b);
}

AttributeTemplate& AttributeTemplate::add_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
    return add_bytes(type, &value, sizeof value);
}

AttributeTemplate& AttributeTemplate::add_bytes(CK_ATTRIBUTE_TYPE type, const Bytes& value) {
    return add_bytes(type, value.data(), value.size());
}

AttributeTemplate& AttributeTemplate::add_bytes(CK_ATTRIBUTE_TYPE type, const void* data,
                                                size_t size) {
    Bytes& stored = storage_.emplace_back(size);
    if (size > 0)
        std::memcpy(stored.data(), data, size);
    attributes_.push_back(
        CK_ATTRIBUTE{type, size > 0 ? stored.data() : nullptr, static_cast<CK_ULONG>(size)});
    return *this;
}

AttributeTemplate& AttributeTemplate::add_string(CK_ATTRIBUTE_TYPE type, std::string_view value) {
    return add_bytes(type, value.data(), value.size());
}

bool AttributeTemplate::contains(CK_ATTRIBUTE_TYPE type) const {
    for (const auto& a : attributes_) {
        if (a.type == type)
            return true;
    }
    return false;
}

}  // namespace attache::p11
