#pragma once

// The attributes of one object the module presents, and C_GetAttributeValue and template
// matching on them with the standard's semantics (PKCS#11 2.40, 5.7).

#include <p11-kit/pkcs11.h>

#include <string_view>
#include <utility>
#include <vector>

#include "pkcs11/bytes.h"

namespace attache::forwarding {

class AttributeSet {
  public:
    AttributeSet() = default;
    ~AttributeSet();
    AttributeSet(AttributeSet&&) noexcept = default;
    AttributeSet& operator=(AttributeSet&&) noexcept = default;
    AttributeSet(const AttributeSet&) = default;
    AttributeSet& operator=(const AttributeSet&) = default;

    AttributeSet& set_bytes(CK_ATTRIBUTE_TYPE type, Bytes value);
    AttributeSet& set_bool(CK_ATTRIBUTE_TYPE type, bool value);
    AttributeSet& set_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
    AttributeSet& set_string(CK_ATTRIBUTE_TYPE type, std::string_view value);
    // Present on the object but never readable (CKR_ATTRIBUTE_SENSITIVE), never matched.
    AttributeSet& set_sensitive(CK_ATTRIBUTE_TYPE type);
    // Wipe every value when this set is destroyed (a derived secret).
    void hold_secret() { secret_ = true; }

    const Bytes* find(CK_ATTRIBUTE_TYPE type) const;
    bool has(CK_ATTRIBUTE_TYPE type) const;
    bool flag(CK_ATTRIBUTE_TYPE type) const;  // a CK_BBOOL attribute that is true
    bool is_sensitive(CK_ATTRIBUTE_TYPE type) const;
    size_t size() const { return values_.size() + sensitive_.size(); }
    const std::vector<std::pair<CK_ATTRIBUTE_TYPE, Bytes>>& values() const { return values_; }
    const std::vector<CK_ATTRIBUTE_TYPE>& sensitive() const { return sensitive_; }

    // C_GetAttributeValue: fills what it can and returns CKR_OK, or one of
    // CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID, CKR_BUFFER_TOO_SMALL with every
    // other attribute of the template still filled.
    CK_RV read(CK_ATTRIBUTE* templ, CK_ULONG count) const;
    // C_FindObjectsInit: every attribute of the template is present with exactly that value.
    bool matches(const CK_ATTRIBUTE* templ, CK_ULONG count) const;

    bool operator==(const AttributeSet& other) const;

  private:
    Bytes* slot_for(CK_ATTRIBUTE_TYPE type);

    std::vector<std::pair<CK_ATTRIBUTE_TYPE, Bytes>> values_;
    std::vector<CK_ATTRIBUTE_TYPE> sensitive_;
    bool secret_ = false;
};

// A template attribute read as a CK_BBOOL or CK_ULONG; false when its length is wrong.
bool template_bool(const CK_ATTRIBUTE& a, bool& out);
bool template_ulong(const CK_ATTRIBUTE& a, CK_ULONG& out);

}  // namespace attache::forwarding
