#pragma once

// RFC 7512 PKCS#11 URIs, parsed and formatted by p11-kit (never by hand). Parsing fails closed:
// a URI with attributes p11-kit does not recognise matches nothing, and a URI carrying a PIN
// (pin-value) is refused outright: a PIN never travels in a command line or a config value.

#include <p11-kit/pkcs11.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pkcs11/attribute_template.h"
#include "pkcs11/bytes.h"
#include "pkcs11/result.h"
#include "pkcs11/token_info.h"

struct p11_kit_uri;

namespace attache::p11 {

class Uri {
  public:
    // The empty URI "pkcs11:" matches every module, token and object.
    Uri();
    static Result<Uri> parse(std::string_view text);

    bool matches_module(const CK_INFO& info) const;
    bool matches_slot(CK_SLOT_ID id, const CK_SLOT_INFO& info) const;
    bool matches_token(const TokenInfo& info) const;
    // True when the URI names any token attribute (token, serial, model, manufacturer).
    bool names_token() const;
    // True when every module, slot, token and object attribute this URI names has the same
    // value in `other` (a key's own URI): "pkcs11:object=sign" matches
    // "pkcs11:token=alice;object=sign;type=private", not "pkcs11:token=alice". An attribute
    // `other` lacks is a mismatch, so a pattern never matches more than it names.
    bool matches_uri(const Uri& other) const;

    // Object attributes named by the URI (id, object label, type) as a search template.
    AttributeTemplate object_template() const;
    bool names_object() const;
    std::optional<Bytes> id() const;
    std::optional<std::string> object_label() const;
    std::optional<CK_OBJECT_CLASS> object_class() const;

    std::string str() const { return text_; }

    // Canonical URIs for a token and for an object on it.
    static std::string for_token(const TokenInfo& token);
    static std::string for_object(const TokenInfo& token, CK_OBJECT_CLASS klass, const Bytes& id,
                                  const std::string& label);

  private:
    std::shared_ptr<p11_kit_uri> uri_;
    std::string text_;
};

}  // namespace attache::p11
