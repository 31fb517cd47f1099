#pragma once

// The admin's policy (docs/policy.md): ordered rules over the facts the agent checked about a
// request, each with allow, confirm or deny; the first rule that matches decides. The admin's
// file (/etc/attache/policy.toml) comes first; a user's file can only make a decision
// stricter (deny > confirm > allow), never weaker.

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "agent/request/context.h"
#include "pkcs11/result.h"

namespace attache::agent {

enum class Verdict { allow, confirm, deny };
std::string_view verdict_name(Verdict verdict);  // "allow", "confirm", "deny"

// The key a request names, as the broker resolved it (empty for unlock, lock and list).
struct PolicyKey {
    std::string id;     // the agent's key id
    std::string uri;    // PKCS#11 URI of the private key
    std::string label;  // CKA_LABEL
    std::string token_serial;
};

struct PolicyQuery {
    const Context& context;
    OperationKind operation;
    PolicyKey key;
};

// A confirmation is remembered at most this long, whatever a rule says.
inline constexpr std::chrono::seconds kMaxRemember{8 * 3600};

struct Decision {
    Verdict verdict = Verdict::deny;
    // Which rule decided, for the audit record and the refusal message:
    // "/etc/attache/policy.toml rule 3 'remote sessions'", or "built-in default".
    std::string rule;
    // confirm only: a confirmed use is remembered this long per (client process, key); 0: ask
    // every time.
    std::chrono::seconds remember{0};
};

class Policy {
  public:
    // The documented default (docs/policy.md), used when there is no policy file.
    static Policy builtin_default();
    // The text builtin_default() is parsed from: agent/policy/default-policy.toml, embedded at
    // build time (the same file is installed as /etc/attache/policy.toml).
    static std::string_view builtin_default_text();
    // Parses a policy document; `origin` names it in errors and in Decision::rule. Errors
    // name the line and the key. Unknown keys and values are errors (a typo must not allow).
    static Result<Policy> parse(std::string_view text, std::string origin);
    static Result<Policy> load(const std::filesystem::path& file);

    Decision decide(const PolicyQuery& query) const;
    // SSHSIG namespaces ssh.sock signs (default: "git", "file").
    bool sshsig_namespace_allowed(std::string_view name) const;

    // The admin's policy with a user's on top: each decision is the stricter of the two.
    static Policy layered(Policy admin, Policy user);

    struct Rules;  // the parsed rules (policy_rules.h)
    Policy(const Policy&);
    Policy(Policy&&) noexcept;
    Policy& operator=(const Policy&);
    Policy& operator=(Policy&&) noexcept;
    ~Policy();

  private:
    Policy();
    std::vector<Rules> layers_;  // the admin's first; a decision is the strictest of them
};

}  // namespace attache::agent
