#pragma once

// One layer of a policy: its ordered rules and what each matches (docs/policy.md). A field a
// rule leaves out matches anything; a rule matches when all of its fields do.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agent/policy/policy.h"
#include "pkcs11/uri.h"

namespace attache::agent {

// One entry of a rule's `key` list: "id:<key id>", "label:<CKA_LABEL>" or a PKCS#11 URI.
struct KeyPattern {
    enum class Kind { id, label, uri };
    Kind kind = Kind::id;
    std::string text;             // the id or label; the URI as written
    std::optional<p11::Uri> uri;  // Kind::uri

    // Parses one entry; the error says which forms exist.
    static Result<KeyPattern> parse(const std::string& text);
    // A query without a key (unlock, lock, list) matches no pattern.
    bool matches(const PolicyKey& key) const;
};

struct Rule {
    std::string name;
    size_t number = 0;  // 1-based position in its file, for Decision::rule
    std::optional<std::vector<Channel>> channels;
    std::optional<bool> forwarded;  // Context::ssh.forwarded on ssh.sock; false elsewhere
    std::optional<std::vector<std::string>> exe;  // fnmatch(3) patterns, FNM_PATHNAME
    std::optional<std::vector<KeyPattern>> keys;
    std::optional<std::vector<OperationKind>> operations;
    std::optional<std::vector<SessionKind>> sessions;
    std::optional<bool> at_seat;  // ClientFacts::at_seat
    Verdict action = Verdict::deny;
    std::chrono::seconds remember{0};  // confirm only; at most kMaxRemember

    bool matches(const PolicyQuery& query) const;
};

// SSHSIG namespaces ssh.sock signs when the admin's file does not say.
inline const std::vector<std::string> kDefaultSshsigNamespaces{"git", "file"};

struct Policy::Rules {
    std::string origin;  // the file, or "built-in default"
    std::vector<Rule> rules;
    // [ssh] sshsig_namespaces; nullopt: not set in this file.
    std::optional<std::vector<std::string>> sshsig_namespaces;

    // The first rule that matches decides; none: deny.
    Decision decide(const PolicyQuery& query) const;
};

}  // namespace attache::agent
