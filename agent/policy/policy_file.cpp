#include "agent/policy/policy_file.h"

#include <toml++/toml.h>

#include <algorithm>
#include <optional>

namespace attache::agent {
namespace {

// Where a node is, and which rule it belongs to: "FILE:LINE: rule 2: ".
class Place {
  public:
    Place(const std::string& origin, std::string rule) : origin_(origin), rule_(std::move(rule)) {}

    Error error(const toml::node& node, const std::string& what) const {
        return Error(origin_ + ":" + std::to_string(node.source().begin.line) + ": " + rule_ +
                     what);
    }
    Error bad_value(const toml::node& node, const std::string& key,
                    const std::string& expected) const {
        return error(node, "'" + key + "' must be " + expected);
    }

  private:
    const std::string& origin_;
    std::string rule_;
};

Result<std::string> get_string(const Place& at, const std::string& key, const toml::node& node) {
    if (node.type() != toml::node_type::string)
        return at.bad_value(node, key, "a string");
    return std::string(*node.value<std::string>());
}

Result<std::vector<std::string>> get_strings(const Place& at, const std::string& key,
                                             const toml::node& node) {
    const toml::array* arr = node.as_array();
    if (arr == nullptr)
        return at.bad_value(node, key, "an array of strings");
    if (arr->empty())
        return at.bad_value(node, key, "a non-empty array (leave it out to match anything)");
    std::vector<std::string> out;
    for (const toml::node& item : *arr) {
        if (item.type() != toml::node_type::string)
            return at.bad_value(item, key, "an array of strings");
        out.push_back(*item.value<std::string>());
    }
    return out;
}

template <typename Enum, size_t N>
std::optional<Enum> lookup(const std::pair<const char*, Enum> (&names)[N],
                           const std::string& word) {
    for (const auto& [name, value] : names) {
        if (word == name)
            return value;
    }
    return std::nullopt;
}

Result<bool> get_bool(const Place& at, const std::string& key, const toml::node& node) {
    if (node.type() != toml::node_type::boolean)
        return at.bad_value(node, key, "true or false");
    return *node.value<bool>();
}

// A list of names, each one of `names`.
template <typename Enum, size_t N>
Result<std::vector<Enum>> get_names(const Place& at, const std::string& key, const toml::node& node,
                                    const std::pair<const char*, Enum> (&names)[N]) {
    ATTACHE_TRY(std::vector<std::string> words, get_strings(at, key, node));
    std::string known;
    for (const auto& [name, value] : names)
        known += std::string(known.empty() ? "" : ", ") + name;
    std::vector<Enum> out;
    for (const std::string& w : words) {
        auto value = lookup(names, w);
        if (!value)
            return at.error(node,
                            "'" + key + "': unknown value '" + w + "' (one of " + known + ")");
        out.push_back(*value);
    }
    return out;
}

constexpr std::pair<const char*, Channel> kChannels[] = {
    {"native", Channel::native}, {"pkcs11", Channel::forwarding_module}, {"ssh", Channel::ssh}};
constexpr std::pair<const char*, OperationKind> kOperations[] = {
    {"sign", OperationKind::sign},     {"decrypt", OperationKind::decrypt},
    {"derive", OperationKind::derive}, {"unlock", OperationKind::unlock},
    {"lock", OperationKind::lock},     {"list", OperationKind::list}};
constexpr std::pair<const char*, SessionKind> kSessions[] = {
    {"local", SessionKind::local}, {"remote", SessionKind::remote}, {"none", SessionKind::none}};
constexpr std::pair<const char*, Verdict> kVerdicts[] = {
    {"allow", Verdict::allow}, {"confirm", Verdict::confirm}, {"deny", Verdict::deny}};

Status apply_rule_key(Rule& rule, const Place& at, const std::string& key, const toml::node& node) {
    if (key == "name") {
        ATTACHE_TRY(rule.name, get_string(at, key, node));
    } else if (key == "channel") {
        ATTACHE_TRY(rule.channels, get_names(at, key, node, kChannels));
    } else if (key == "forwarded") {
        ATTACHE_TRY(rule.forwarded, get_bool(at, key, node));
    } else if (key == "at_seat") {
        ATTACHE_TRY(rule.at_seat, get_bool(at, key, node));
    } else if (key == "exe") {
        ATTACHE_TRY(std::vector<std::string> patterns, get_strings(at, key, node));
        for (const std::string& p : patterns) {
            if (p.empty() || p.front() != '/')
                return at.error(node, "'exe': '" + p + "' is not an absolute path or pattern");
        }
        rule.exe = std::move(patterns);
    } else if (key == "key") {
        ATTACHE_TRY(std::vector<std::string> texts, get_strings(at, key, node));
        std::vector<KeyPattern> keys;
        for (const std::string& t : texts) {
            auto k = KeyPattern::parse(t);
            if (!k)
                return at.error(node, "'key': " + k.error().message());
            keys.push_back(std::move(*k));
        }
        rule.keys = std::move(keys);
    } else if (key == "operation") {
        ATTACHE_TRY(rule.operations, get_names(at, key, node, kOperations));
    } else if (key == "session") {
        ATTACHE_TRY(rule.sessions, get_names(at, key, node, kSessions));
    } else if (key == "action") {
        auto verdict = node.type() == toml::node_type::string
                           ? lookup(kVerdicts, *node.value<std::string>())
                           : std::nullopt;
        if (!verdict)
            return at.bad_value(node, key, "one of \"allow\", \"confirm\", \"deny\"");
        rule.action = *verdict;
    } else if (key == "remember") {
        if (node.type() != toml::node_type::integer || *node.value<int64_t>() < 0)
            return at.bad_value(node, key, "a whole number of seconds >= 0");
        // Capped, not refused: an admin's "a day" means "as long as allowed".
        rule.remember = std::min(std::chrono::seconds(*node.value<int64_t>()), kMaxRemember);
    } else {
        return at.error(node, "unknown key '" + key + "'");
    }
    return ok();
}

Result<Rule> parse_rule(const std::string& origin, size_t number, const toml::node& node) {
    const Place at(origin, "rule " + std::to_string(number) + ": ");
    const toml::table* table = node.as_table();
    if (table == nullptr)
        return at.error(node, "must be a table ([[rule]])");
    Rule rule;
    rule.number = number;
    bool has_action = false;
    const toml::node* remember = nullptr;
    for (const auto& [k, value] : *table) {
        const std::string key(k.str());
        ATTACHE_CHECK(apply_rule_key(rule, at, key, value));
        has_action |= key == "action";
        if (key == "remember")
            remember = &value;
    }
    if (rule.name.empty())
        return at.error(node, "needs a name (name = \"...\"), for the audit log");
    if (!has_action)
        return at.error(node, "needs an action (allow, confirm or deny)");
    if (remember != nullptr && rule.action != Verdict::confirm)
        return at.error(*remember, "'remember' is only for action = \"confirm\"");
    return rule;
}

Result<std::vector<std::string>> parse_ssh(const std::string& origin, const toml::node& node) {
    const Place at(origin, "[ssh]: ");
    const toml::table* table = node.as_table();
    if (table == nullptr)
        return at.error(node, "must be a table");
    std::vector<std::string> namespaces = kDefaultSshsigNamespaces;
    for (const auto& [k, value] : *table) {
        const std::string key(k.str());
        if (key != "sshsig_namespaces")
            return at.error(value, "unknown key '" + key + "'");
        // An empty list is allowed here: ssh.sock signs no SSHSIG at all.
        if (value.is_array() && value.as_array()->empty()) {
            namespaces.clear();
            continue;
        }
        ATTACHE_TRY(namespaces, get_strings(at, key, value));
    }
    return namespaces;
}

}  // namespace

Result<Policy::Rules> parse_policy_rules(std::string_view text, std::string origin) {
    toml::table table;
    try {
        table = toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        return Error(origin + ":" + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
    }
    Policy::Rules layer;
    layer.origin = std::move(origin);
    const Place at(layer.origin, "");
    for (const auto& [k, node] : table) {
        const std::string key(k.str());
        if (key == "ssh") {
            ATTACHE_TRY(layer.sshsig_namespaces, parse_ssh(layer.origin, node));
        } else if (key == "rule") {
            const toml::array* rules = node.as_array();
            if (rules == nullptr)
                return at.error(node, "'rule' must be an array of tables ([[rule]])");
            for (const toml::node& r : *rules) {
                ATTACHE_TRY(Rule rule, parse_rule(layer.origin, layer.rules.size() + 1, r));
                layer.rules.push_back(std::move(rule));
            }
        } else {
            return at.error(node, "unknown key '" + key + "'");
        }
    }
    return layer;
}

}  // namespace attache::agent
