#pragma once

// Attribute templates on the wire. An input template is a count, then per attribute its type
// and its value (bytes, or null for a NULL pValue). A nested template (CKA_WRAP_TEMPLATE,
// CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE: CKF_ARRAY_ATTRIBUTE types other than
// CKA_ALLOWED_MECHANISMS, whose value is a plain CK_MECHANISM_TYPE array) travels as a nested
// template, at most kMaxTemplateDepth deep. Values are the module's native bytes: both ends run
// on the same machine and ABI.

#include <p11-kit/pkcs11.h>

#include <memory>
#include <vector>

#include "pkcs11/module_helper/wire/field_reader.h"
#include "pkcs11/module_helper/wire/field_writer.h"

namespace attache::p11::module_helper {

// Whether an attribute's value is itself a template.
bool is_nested_template(CK_ATTRIBUTE_TYPE type);

// Writes `count` attributes; fails the writer on a malformed template (NULL array with a
// count, a nested template whose length is not a whole number of attributes, too deep).
void write_template(FieldWriter& w, const CK_ATTRIBUTE* attributes, CK_ULONG count, int depth = 1);

// A template decoded in the helper, owning the storage its CK_ATTRIBUTEs point into (the
// frame's bytes for plain values, nested DecodedTemplates for nested ones).
struct DecodedTemplate {
    std::vector<CK_ATTRIBUTE> attributes;
    std::vector<std::unique_ptr<DecodedTemplate>> nested;

    CK_ATTRIBUTE* data() { return attributes.empty() ? nullptr : attributes.data(); }
    CK_ULONG size() const { return static_cast<CK_ULONG>(attributes.size()); }
};

// Reads a template written by write_template; on malformed input the reader fails.
void read_template(FieldReader& r, DecodedTemplate& out, int depth = 1);

}  // namespace attache::p11::module_helper
