#include "agent/policy/policy_loader.h"

#include <cstdlib>
#include <system_error>

namespace attache::agent {
namespace {

// nullopt when the file does not exist; the file's policy, or why it cannot be used.
std::optional<Result<Policy>> load_if_present(const std::filesystem::path& file) {
    std::error_code ec;
    const bool present = std::filesystem::exists(file, ec);
    if (ec) {
        return Result<Policy>(
            Error("cannot read the policy " + file.string() + ": " + ec.message()));
    }
    if (!present)
        return std::nullopt;
    return Policy::load(file);
}

}  // namespace

std::filesystem::path default_user_policy_file() {
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
        return std::filesystem::path(xdg) / "attache/policy.toml";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::filesystem::path(home) / ".config/attache/policy.toml";
    return {};
}

Result<Policy> load_policy(const Config& config, const std::filesystem::path& user_file) {
    auto admin = load_if_present(config.policy);
    Policy policy = Policy::builtin_default();
    if (admin) {
        ATTACHE_TRY(policy, std::move(*admin));
    }
    if (user_file.empty())
        return policy;
    auto user = load_if_present(user_file);
    if (!user)
        return policy;
    ATTACHE_TRY(Policy mine, std::move(*user));
    return Policy::layered(std::move(policy), std::move(mine));
}

}  // namespace attache::agent
