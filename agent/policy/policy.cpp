#include "agent/policy/policy.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "agent/policy/default_policy_text.h"  // generated from default-policy.toml
#include "agent/policy/policy_file.h"
#include "agent/policy/policy_rules.h"

namespace attache::agent {
namespace {

int strictness(Verdict v) {
    switch (v) {
        case Verdict::allow:
            return 0;
        case Verdict::confirm:
            return 1;
        case Verdict::deny:
            return 2;
    }
    return 2;
}

}  // namespace

std::string_view verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::allow:
            return "allow";
        case Verdict::confirm:
            return "confirm";
        case Verdict::deny:
            return "deny";
    }
    return "?";
}

Policy::Policy() = default;
Policy::Policy(const Policy&) = default;
Policy::Policy(Policy&&) noexcept = default;
Policy& Policy::operator=(const Policy&) = default;
Policy& Policy::operator=(Policy&&) noexcept = default;
Policy::~Policy() = default;

std::string_view Policy::builtin_default_text() {
    return kDefaultPolicyText;
}

Policy Policy::builtin_default() {
    auto rules = parse_policy_rules(kDefaultPolicyText, "built-in default");
    // The shipped file is parsed by a test at build time; it cannot fail here. Should it ever,
    // an empty layer denies everything rather than allowing.
    Policy p;
    p.layers_.push_back(rules ? std::move(*rules) : Rules{"built-in default (unreadable)", {}, {}});
    return p;
}

Result<Policy> Policy::parse(std::string_view text, std::string origin) {
    ATTACHE_TRY(Rules rules, parse_policy_rules(text, std::move(origin)));
    Policy p;
    p.layers_.push_back(std::move(rules));
    return p;
}

Result<Policy> Policy::load(const std::filesystem::path& file) {
    // A directory opens as a stream and reads as empty: that must not become an empty policy.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec))
        return Error("cannot read the policy " + file.string() + ": not a regular file");
    std::ifstream in(file);
    if (!in)
        return Error("cannot read the policy " + file.string() + ": " + std::strerror(errno));
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad())
        return Error("cannot read the policy " + file.string() + ": read error");
    return parse(text.str(), file.string());
}

Decision Policy::decide(const PolicyQuery& query) const {
    std::optional<Decision> strictest;
    for (const Rules& layer : layers_) {
        Decision d = layer.decide(query);
        if (!strictest || strictness(d.verdict) > strictness(strictest->verdict) ||
            (d.verdict == Verdict::confirm && strictest->verdict == Verdict::confirm &&
             d.remember < strictest->remember)) {
            strictest = std::move(d);
        }
    }
    if (!strictest)
        return {Verdict::deny, "an empty policy", std::chrono::seconds(0)};
    return *strictest;
}

bool Policy::sshsig_namespace_allowed(std::string_view name) const {
    for (size_t i = 0; i < layers_.size(); ++i) {
        // The admin's layer without [ssh] means the default; a user's layer without it adds
        // no restriction of its own.
        const auto& set = layers_[i].sshsig_namespaces;
        const std::vector<std::string>* names =
            set ? &*set : (i == 0 ? &kDefaultSshsigNamespaces : nullptr);
        if (names != nullptr && std::find(names->begin(), names->end(), name) == names->end())
            return false;
    }
    return !layers_.empty();
}

Policy Policy::layered(Policy admin, Policy user) {
    Policy p = std::move(admin);
    for (Rules& layer : user.layers_)
        p.layers_.push_back(std::move(layer));
    return p;
}

}  // namespace attache::agent
