#include "pkcs11/module_helper/wire/template_codec.h"

#include "pkcs11/module_helper/wire/limits.h"

namespace attache::p11::module_helper {

bool is_nested_template(CK_ATTRIBUTE_TYPE type) {
    return (type & CKF_ARRAY_ATTRIBUTE) != 0 && type != CKA_ALLOWED_MECHANISMS;
}

void write_template(FieldWriter& w, const CK_ATTRIBUTE* attributes, CK_ULONG count, int depth) {
    if (depth > kMaxTemplateDepth || (attributes == nullptr && count != 0) ||
        count > kMaxAttributes) {
        w.fail();
        return;
    }
    w.count(count);
    for (CK_ULONG i = 0; i < count && !w.failed(); ++i) {
        const CK_ATTRIBUTE& a = attributes[i];
        w.ulong(a.type);
        if (is_nested_template(a.type) && a.pValue != nullptr) {
            if (a.ulValueLen % sizeof(CK_ATTRIBUTE) != 0) {
                w.fail();
                return;
            }
            write_template(w, static_cast<const CK_ATTRIBUTE*>(a.pValue),
                           a.ulValueLen / sizeof(CK_ATTRIBUTE), depth + 1);
        } else {
            w.bytes(a.pValue, a.ulValueLen);
        }
    }
}

void read_template(FieldReader& r, DecodedTemplate& out, int depth) {
    if (depth > kMaxTemplateDepth) {
        r.fail();
        return;
    }
    const size_t n = r.count(kMaxAttributes);
    out.attributes.reserve(n);
    for (size_t i = 0; i < n && !r.failed(); ++i) {
        CK_ATTRIBUTE a{};
        a.type = r.ulong();
        if (is_nested_template(a.type) && !r.next_is_null()) {
            auto nested = std::make_unique<DecodedTemplate>();
            read_template(r, *nested, depth + 1);
            a.pValue = nested->data();
            a.ulValueLen = nested->size() * sizeof(CK_ATTRIBUTE);
            out.nested.push_back(std::move(nested));
        } else if (auto value = r.bytes()) {
            // An empty value still gets a non-NULL pointer: NULL means "no value" to a module.
            static std::uint8_t empty = 0;
            a.pValue = value->empty() ? &empty : value->data();
            a.ulValueLen = static_cast<CK_ULONG>(value->size());
        }
        out.attributes.push_back(a);
    }
}

}  // namespace attache::p11::module_helper
