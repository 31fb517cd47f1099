#include "tests/support/test_policy.h"

#include <fstream>

namespace attache::testing {
namespace {

void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

}  // namespace

std::filesystem::path write_test_admin_config(const std::filesystem::path& dir,
                                              const std::string& policy_text,
                                              const std::string& admin_extra) {
    const auto policy = dir / "policy.toml";
    if (!policy_text.empty())
        write(policy, policy_text);
    const auto admin = dir / "admin.toml";
    write(admin, "policy = \"" + policy.string() + "\"\n" + admin_extra + "\n");
    return admin;
}

}  // namespace attache::testing
