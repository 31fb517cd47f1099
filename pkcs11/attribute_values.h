#pragma once

// The values of several attributes of one object, read in one batch. An attribute the module
// does not have, or will not reveal (CKR_ATTRIBUTE_SENSITIVE, CK_UNAVAILABLE_INFORMATION), is
// absent; every typed accessor checks the length before it interprets the bytes.

#include <p11-kit/pkcs11.h>

#include <map>
#include <optional>
#include <string>

#include "pkcs11/bytes.h"

namespace attache::p11 {

class AttributeValues {
  public:
    void set(CK_ATTRIBUTE_TYPE type, Bytes value) { values_[type] = std::move(value); }

    bool has(CK_ATTRIBUTE_TYPE type) const { return values_.count(type) != 0; }
    const Bytes* bytes(CK_ATTRIBUTE_TYPE type) const;
    // CK_BBOOL: exactly one byte, else nullopt.
    std::optional<bool> boolean(CK_ATTRIBUTE_TYPE type) const;
    // CK_ULONG: exactly sizeof(CK_ULONG) bytes, else nullopt.
    std::optional<CK_ULONG> ulong(CK_ATTRIBUTE_TYPE type) const;
    std::optional<std::string> string(CK_ATTRIBUTE_TYPE type) const;

    bool flag(CK_ATTRIBUTE_TYPE type) const { return boolean(type).value_or(false); }

  private:
    std::map<CK_ATTRIBUTE_TYPE, Bytes> values_;
};

}  // namespace attache::p11
