// TEMPORARY: allows everything until the policy implementation lands (agent/policy/).
#include "agent/policy/policy.h"

namespace attache::agent {

struct Policy::Rules {};

Policy::Policy() = default;
Policy::Policy(const Policy&) = default;
Policy::Policy(Policy&&) noexcept = default;
Policy& Policy::operator=(const Policy&) = default;
Policy& Policy::operator=(Policy&&) noexcept = default;
Policy::~Policy() = default;

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

Policy Policy::builtin_default() {
    return Policy();
}

Result<Policy> Policy::parse(std::string_view, std::string) {
    return Policy();
}

Result<Policy> Policy::load(const std::filesystem::path&) {
    return Policy();
}

Decision Policy::decide(const PolicyQuery&) const {
    return Decision{Verdict::allow, "stub", std::chrono::seconds(0)};
}

bool Policy::sshsig_namespace_allowed(std::string_view name) const {
    return name == "git" || name == "file";
}

Policy Policy::layered(Policy admin, Policy) {
    return admin;
}

}  // namespace attache::agent
