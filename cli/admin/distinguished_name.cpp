#include "cli/admin/distinguished_name.h"

#include <openssl/objects.h>

#include <string>
#include <utility>
#include <vector>

namespace attache::cli::admin {
namespace {

struct Component {
    std::string type;
    std::string value;
};

bool is_space(char c) {
    return c == ' ' || c == '\t';
}

// Splits on unescaped `separator`, keeping escapes in place for the second pass.
Result<std::vector<std::string>> split(std::string_view text, char separator) {
    std::vector<std::string> parts(1);
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\\') {
            if (i + 1 == text.size())
                return Error("it ends with a lone backslash");
            parts.back() += c;
            parts.back() += text[++i];
        } else if (c == separator) {
            parts.emplace_back();
        } else {
            parts.back() += c;
        }
    }
    return parts;
}

Result<Component> parse_component(const std::string& part) {
    // Type: up to the first '=' (types never contain escapes).
    size_t eq = part.find('=');
    if (eq == std::string::npos)
        return Error("'" + part + "' is not TYPE=VALUE");
    Component c;
    size_t b = 0, e = eq;
    while (b < e && is_space(part[b]))
        ++b;
    while (e > b && is_space(part[e - 1]))
        --e;
    c.type = part.substr(b, e - b);
    if (c.type.empty())
        return Error("'" + part + "' has no attribute type");

    // Value: unescape; trim unescaped blanks at both ends.
    std::string raw = part.substr(eq + 1);
    size_t start = 0;
    while (start < raw.size() && is_space(raw[start]))
        ++start;
    size_t keep = 0;  // length of the value up to its last escaped or non-blank character
    for (size_t i = start; i < raw.size(); ++i) {
        char ch = raw[i];
        if (ch == '\\') {
            c.value += raw[++i];
            keep = c.value.size();
        } else if (ch == '+') {
            return Error("multi-valued RDNs ('+' in '" + part +
                         "') are not supported; escape it "
                         "as \\+ if it is part of the value");
        } else {
            c.value += ch;
            if (!is_space(ch))
                keep = c.value.size();
        }
    }
    c.value.resize(keep);
    if (c.value.empty())
        return Error("'" + c.type + "' has an empty value");
    return c;
}

}  // namespace

Result<X509NamePtr> parse_distinguished_name(std::string_view text) {
    auto wrap = [&](const Error& e) {
        return Error("the subject '" + std::string(text) + "' does not parse: " + e.message());
    };
    std::string_view body = text;
    while (!body.empty() && is_space(body.front()))
        body.remove_prefix(1);
    if (body.empty())
        return wrap(Error("it is empty"));
    const bool slash_form = body.front() == '/';
    if (slash_form)
        body.remove_prefix(1);

    auto parts = split(body, slash_form ? '/' : ',');
    if (!parts)
        return wrap(parts.error());
    std::vector<Component> components;
    for (const std::string& part : *parts) {
        auto c = parse_component(part);
        if (!c)
            return wrap(c.error());
        components.push_back(std::move(*c));
    }
    if (!slash_form) {
        // RFC 4514 writes the most specific RDN first; X509_NAME holds the least first.
        std::vector<Component> reversed(components.rbegin(), components.rend());
        components.swap(reversed);
    }

    X509NamePtr name(X509_NAME_new());
    if (!name)
        return Error("out of memory");
    for (const Component& c : components) {
        ASN1_OBJECT* obj = OBJ_txt2obj(c.type.c_str(), 0);
        if (obj == nullptr) {
            openssl_errors();
            return wrap(Error("unknown attribute type '" + c.type + "'"));
        }
        const auto* value = reinterpret_cast<const unsigned char*>(c.value.data());
        int added = X509_NAME_add_entry_by_OBJ(name.get(), obj, MBSTRING_UTF8, value,
                                               static_cast<int>(c.value.size()), -1, 0);
        ASN1_OBJECT_free(obj);
        if (added != 1) {
            return wrap(Error("OpenSSL refuses " + c.type + "='" + c.value +
                              "' (wrong length or characters for this type) " + openssl_errors()));
        }
    }
    return name;
}

}  // namespace attache::cli::admin
