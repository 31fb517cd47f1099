#include "pkcs11/uri.h"

#include <p11-kit/uri.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace attache::p11 {
namespace {

std::shared_ptr<P11KitUri> make_uri() {
    return std::shared_ptr<P11KitUri>(p11_kit_uri_new(), p11_kit_uri_free);
}

bool token_field_set(const unsigned char* field, size_t size) {
    // p11-kit leaves unset token fields all zero.
    for (size_t i = 0; i < size; ++i) {
        if (field[i] != 0)
            return true;
    }
    return false;
}

void copy_padded(unsigned char* field, size_t size, const std::string& value) {
    std::memset(field, ' ', size);
    std::memcpy(field, value.data(), std::min(value.size(), size));
}

// The URI as an error message may show it: the value of every pin-value attribute (RFC 7512
// puts it in the query; p11-kit takes it in the path too) replaced by "***".
std::string redact_pin(const std::string& text) {
    static constexpr std::string_view kPin = "pin-value=";
    std::string lower(text);
    for (char& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string out;
    size_t pos = 0;
    for (size_t at; (at = lower.find(kPin, pos)) != std::string::npos;) {
        out.append(text, pos, at + kPin.size() - pos);
        out += "***";
        pos = std::min(text.find_first_of(";?&", at + kPin.size()), text.size());
    }
    out.append(text, pos);
    return out;
}

std::string format(P11KitUri* uri, P11KitUriType type) {
    char* out = nullptr;
    if (p11_kit_uri_format(uri, type, &out) != P11_KIT_URI_OK || out == nullptr) {
        return "pkcs11:";
    }
    std::string s(out);
    free(out);
    return s;
}

}  // namespace

Uri::Uri() : uri_(make_uri()), text_("pkcs11:") {}

Result<Uri> Uri::parse(std::string_view text) {
    Uri u;
    const std::string s(text);
    int rc = p11_kit_uri_parse(s.c_str(), P11_KIT_URI_FOR_ANY, u.uri_.get());
    if (rc != P11_KIT_URI_OK) {
        return Error("invalid PKCS#11 URI '" + redact_pin(s) + "': " + p11_kit_uri_message(rc));
    }
    if (p11_kit_uri_get_pin_value(u.uri_.get()) != nullptr) {
        return Error("PKCS#11 URI '" + redact_pin(s) +
                     "' carries a pin-value; PINs are never accepted in a URI");
    }
    if (p11_kit_uri_any_unrecognized(u.uri_.get())) {
        return Error("PKCS#11 URI '" + redact_pin(s) + "' has attributes that are not understood");
    }
    u.text_ = s;
    return u;
}

bool Uri::matches_module(const CK_INFO& info) const {
    return p11_kit_uri_match_module_info(uri_.get(), const_cast<CK_INFO*>(&info)) == 1;
}

bool Uri::matches_slot(CK_SLOT_ID id, const CK_SLOT_INFO& info) const {
    CK_SLOT_ID wanted = p11_kit_uri_get_slot_id(uri_.get());
    if (wanted != static_cast<CK_SLOT_ID>(-1) && wanted != id)
        return false;
    return p11_kit_uri_match_slot_info(uri_.get(), const_cast<CK_SLOT_INFO*>(&info)) == 1;
}

bool Uri::matches_token(const TokenInfo& info) const {
    return p11_kit_uri_match_token_info(uri_.get(), const_cast<CK_TOKEN_INFO*>(&info.raw)) == 1;
}

bool Uri::names_token() const {
    const CK_TOKEN_INFO* t = p11_kit_uri_get_token_info(uri_.get());
    return token_field_set(t->label, sizeof t->label) ||
           token_field_set(t->serialNumber, sizeof t->serialNumber) ||
           token_field_set(t->model, sizeof t->model) ||
           token_field_set(t->manufacturerID, sizeof t->manufacturerID);
}

bool Uri::matches_uri(const Uri& other) const {
    P11KitUri* mine = uri_.get();
    P11KitUri* theirs = other.uri_.get();
    // p11-kit compares only the fields set in `mine`; a field unset in `theirs` is all zero
    // and so differs from any value `mine` names.
    if (p11_kit_uri_match_module_info(mine, p11_kit_uri_get_module_info(theirs)) != 1 ||
        p11_kit_uri_match_slot_info(mine, p11_kit_uri_get_slot_info(theirs)) != 1 ||
        p11_kit_uri_match_token_info(mine, p11_kit_uri_get_token_info(theirs)) != 1) {
        return false;
    }
    auto same_query = [](const char* want, const char* have) {
        return want == nullptr || (have != nullptr && std::strcmp(want, have) == 0);
    };
    if (!same_query(p11_kit_uri_get_module_name(mine), p11_kit_uri_get_module_name(theirs)) ||
        !same_query(p11_kit_uri_get_module_path(mine), p11_kit_uri_get_module_path(theirs))) {
        return false;
    }
    const CK_SLOT_ID slot = p11_kit_uri_get_slot_id(mine);
    if (slot != static_cast<CK_SLOT_ID>(-1) && slot != p11_kit_uri_get_slot_id(theirs))
        return false;
    CK_ULONG n = 0;
    CK_ATTRIBUTE* attrs = p11_kit_uri_get_attributes(mine, &n);
    for (CK_ULONG i = 0; i < n; ++i) {
        const CK_ATTRIBUTE* a = p11_kit_uri_get_attribute(theirs, attrs[i].type);
        if (a == nullptr || a->ulValueLen != attrs[i].ulValueLen ||
            (a->ulValueLen > 0 && std::memcmp(a->pValue, attrs[i].pValue, a->ulValueLen) != 0)) {
            return false;
        }
    }
    return true;
}

AttributeTemplate Uri::object_template() const {
    AttributeTemplate t;
    CK_ULONG n = 0;
    CK_ATTRIBUTE* attrs = p11_kit_uri_get_attributes(uri_.get(), &n);
    for (CK_ULONG i = 0; i < n; ++i) {
        t.add_bytes(attrs[i].type, attrs[i].pValue, attrs[i].ulValueLen);
    }
    return t;
}

bool Uri::names_object() const {
    CK_ULONG n = 0;
    p11_kit_uri_get_attributes(uri_.get(), &n);
    return n > 0;
}

std::optional<Bytes> Uri::id() const {
    CK_ATTRIBUTE* a = p11_kit_uri_get_attribute(uri_.get(), CKA_ID);
    if (a == nullptr)
        return std::nullopt;
    auto* p = static_cast<const uint8_t*>(a->pValue);
    return Bytes(p, p + a->ulValueLen);
}

std::optional<std::string> Uri::object_label() const {
    CK_ATTRIBUTE* a = p11_kit_uri_get_attribute(uri_.get(), CKA_LABEL);
    if (a == nullptr)
        return std::nullopt;
    return std::string(static_cast<const char*>(a->pValue), a->ulValueLen);
}

std::optional<CK_OBJECT_CLASS> Uri::object_class() const {
    CK_ATTRIBUTE* a = p11_kit_uri_get_attribute(uri_.get(), CKA_CLASS);
    if (a == nullptr || a->ulValueLen != sizeof(CK_OBJECT_CLASS))
        return std::nullopt;
    CK_OBJECT_CLASS c;
    std::memcpy(&c, a->pValue, sizeof c);
    return c;
}

std::string Uri::for_token(const TokenInfo& token) {
    auto uri = make_uri();
    CK_TOKEN_INFO* t = p11_kit_uri_get_token_info(uri.get());
    copy_padded(t->label, sizeof t->label, token.label);
    copy_padded(t->manufacturerID, sizeof t->manufacturerID, token.manufacturer);
    copy_padded(t->model, sizeof t->model, token.model);
    copy_padded(t->serialNumber, sizeof t->serialNumber, token.serial);
    return format(uri.get(), P11_KIT_URI_FOR_TOKEN);
}

std::string Uri::for_object(const TokenInfo& token, CK_OBJECT_CLASS klass, const Bytes& id,
                            const std::string& label) {
    auto uri = make_uri();
    CK_TOKEN_INFO* t = p11_kit_uri_get_token_info(uri.get());
    copy_padded(t->label, sizeof t->label, token.label);
    copy_padded(t->manufacturerID, sizeof t->manufacturerID, token.manufacturer);
    copy_padded(t->model, sizeof t->model, token.model);
    copy_padded(t->serialNumber, sizeof t->serialNumber, token.serial);
    AttributeTemplate attrs;
    attrs.add_ulong(CKA_CLASS, klass);
    if (!id.empty())
        attrs.add_bytes(CKA_ID, id);
    if (!label.empty())
        attrs.add_string(CKA_LABEL, label);
    p11_kit_uri_set_attributes(uri.get(), attrs.data(), attrs.size());
    return format(uri.get(), P11_KIT_URI_FOR_OBJECT_ON_TOKEN);
}

}  // namespace attache::p11
