#include "pkcs11/attribute_values.h"

#include <cstring>

namespace attache::p11 {

const Bytes* AttributeValues::bytes(CK_ATTRIBUTE_TYPE type) const {
    auto it = values_.find(type);
    return it == values_.end() ? nullptr : &it->second;
}

std::optional<bool> AttributeValues::boolean(CK_ATTRIBUTE_TYPE type) const {
    const Bytes* b = bytes(type);
    if (b == nullptr || b->size() != sizeof(CK_BBOOL))
        return std::nullopt;
    return (*b)[0] != CK_FALSE;
}

std::optional<CK_ULONG> AttributeValues::ulong(CK_ATTRIBUTE_TYPE type) const {
    const Bytes* b = bytes(type);
    if (b == nullptr || b->size() != sizeof(CK_ULONG))
        return std::nullopt;
    CK_ULONG v;
    std::memcpy(&v, b->data(), sizeof v);
    return v;
}

std::optional<std::string> AttributeValues::string(CK_ATTRIBUTE_TYPE type) const {
    const Bytes* b = bytes(type);
    if (b == nullptr)
        return std::nullopt;
    return to_string(*b);
}

}  // namespace attache::p11
