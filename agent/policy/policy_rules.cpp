#include "agent/policy/policy_rules.h"

#include <fnmatch.h>

#include <algorithm>

namespace attache::agent {
namespace {

template <typename T>
bool any_of(const std::optional<std::vector<T>>& set, const T& value) {
    return !set || std::find(set->begin(), set->end(), value) != set->end();
}

bool exe_matches(const std::vector<std::string>& patterns, const std::string& exe) {
    // An unreadable executable ("?") matches no pattern: every pattern is an absolute path.
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
        return fnmatch(p.c_str(), exe.c_str(), FNM_PATHNAME) == 0;
    });
}

}  // namespace

Result<KeyPattern> KeyPattern::parse(const std::string& text) {
    KeyPattern p;
    if (text.rfind("id:", 0) == 0) {
        p.kind = Kind::id;
        p.text = text.substr(3);
    } else if (text.rfind("label:", 0) == 0) {
        p.kind = Kind::label;
        p.text = text.substr(6);
    } else if (text.rfind("pkcs11:", 0) == 0) {
        p.kind = Kind::uri;
        p.text = text;
        ATTACHE_TRY(p11::Uri uri, p11::Uri::parse(text));
        p.uri = std::move(uri);
        return p;
    } else {
        return Error("'" + text + "' is not \"id:<key id>\", \"label:<label>\" or a pkcs11: URI");
    }
    if (p.text.empty())
        return Error("'" + text + "' names no key");
    return p;
}

bool KeyPattern::matches(const PolicyKey& key) const {
    if (key.id.empty() && key.uri.empty())
        return false;
    switch (kind) {
        case Kind::id:
            return key.id == text;
        case Kind::label:
            return !key.label.empty() && key.label == text;
        case Kind::uri: {
            auto key_uri = p11::Uri::parse(key.uri);
            return key_uri && uri->matches_uri(*key_uri);
        }
    }
    return false;
}

bool Rule::matches(const PolicyQuery& query) const {
    const Context& c = query.context;
    if (!any_of(channels, c.channel) || !any_of(operations, query.operation) ||
        !any_of(sessions, c.client.session)) {
        return false;
    }
    if (forwarded && *forwarded != (c.channel == Channel::ssh && c.ssh.forwarded))
        return false;
    if (at_seat && *at_seat != c.client.at_seat)
        return false;
    if (exe && !exe_matches(*exe, c.client.exe))
        return false;
    if (keys && std::none_of(keys->begin(), keys->end(),
                             [&](const KeyPattern& k) { return k.matches(query.key); })) {
        return false;
    }
    return true;
}

Decision Policy::Rules::decide(const PolicyQuery& query) const {
    for (const Rule& r : rules) {
        if (r.matches(query)) {
            return {r.action, origin + " rule " + std::to_string(r.number) + " '" + r.name + "'",
                    r.action == Verdict::confirm ? r.remember : std::chrono::seconds(0)};
        }
    }
    return {Verdict::deny, origin + ": no rule matches, so it is denied", std::chrono::seconds(0)};
}

}  // namespace attache::agent
