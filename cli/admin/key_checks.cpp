#include "cli/admin/key_checks.h"

namespace attache::cli::admin {
namespace {

void expect(const p11::AttributeValues& v, CK_ATTRIBUTE_TYPE type, const char* name, bool wanted,
            std::vector<std::string>& problems) {
    auto value = v.boolean(type);
    if (!value)
        problems.push_back(std::string(name) + " is not reported by the token");
    else if (*value != wanted)
        problems.push_back(std::string(name) + " is " + (*value ? "true" : "false"));
}

}  // namespace

Result<p11::AttributeValues> read_private_key_checks(const p11::Session& session,
                                                     CK_OBJECT_HANDLE private_key) {
    return session.read(private_key, kPrivateKeyChecks);
}

std::vector<std::string> provenance_problems(const p11::AttributeValues& v, bool without_login) {
    std::vector<std::string> problems;
    expect(v, CKA_TOKEN, "CKA_TOKEN", true, problems);
    expect(v, CKA_PRIVATE, "CKA_PRIVATE", !without_login, problems);
    expect(v, CKA_LOCAL, "CKA_LOCAL", true, problems);
    expect(v, CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", true, problems);
    expect(v, CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", true, problems);
    expect(v, CKA_SENSITIVE, "CKA_SENSITIVE", true, problems);
    expect(v, CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false, problems);
    return problems;
}

std::vector<std::string> usage_problems(const p11::AttributeValues& v, const p11::KeyUsage& usage) {
    std::vector<std::string> problems;
    expect(v, CKA_SIGN, "CKA_SIGN", usage.sign, problems);
    expect(v, CKA_DECRYPT, "CKA_DECRYPT", usage.decrypt, problems);
    expect(v, CKA_DERIVE, "CKA_DERIVE", usage.derive, problems);
    // Absent is fine for these two (EC keys have no unwrap or sign-recover); true is not.
    if (v.flag(CKA_UNWRAP))
        problems.push_back("CKA_UNWRAP is true");
    if (v.flag(CKA_SIGN_RECOVER))
        problems.push_back("CKA_SIGN_RECOVER is true");
    return problems;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty())
            out += separator;
        out += item;
    }
    return out;
}

}  // namespace attache::cli::admin
