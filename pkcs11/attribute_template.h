#pragma once

// A CK_ATTRIBUTE array that owns the values it points to, for searches and object creation.

#include <p11-kit/pkcs11.h>

#include <deque>
#include <string_view>
#include <vector>

#include "pkcs11/bytes.h"

namespace attache::p11 {

class AttributeTemplate {
  public:
    AttributeTemplate() = default;
    AttributeTemplate(const AttributeTemplate& other) { *this = other; }
    AttributeTemplate& operator=(const AttributeTemplate& other);
    AttributeTemplate(AttributeTemplate&&) = default;
    AttributeTemplate& operator=(AttributeTemplate&&) = default;

    AttributeTemplate& add_bool(CK_ATTRIBUTE_TYPE type, bool value);
    AttributeTemplate& add_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
    AttributeTemplate& add_bytes(CK_ATTRIBUTE_TYPE type, const Bytes& value);
    AttributeTemplate& add_bytes(CK_ATTRIBUTE_TYPE type, const void* data, size_t size);
    AttributeTemplate& add_string(CK_ATTRIBUTE_TYPE type, std::string_view value);

    CK_ATTRIBUTE* data() { return attributes_.data(); }
    CK_ULONG size() const { return static_cast<CK_ULONG>(attributes_.size()); }
    bool empty() const { return attributes_.empty(); }
    bool contains(CK_ATTRIBUTE_TYPE type) const;

  private:
    std::vector<CK_ATTRIBUTE> attributes_;
    std::deque<Bytes> storage_;  // deque: growing it never moves stored values
};

}  // namespace attache::p11
