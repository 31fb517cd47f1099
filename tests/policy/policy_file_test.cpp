// Reading policy files: every mistake is an error naming the file, the line and the key.

#include <gtest/gtest.h>

#include "tests/policy/policy_test_support.h"

namespace attache::testing {
namespace {

using agent::Verdict;

void expect_error(const std::string& text, const std::string& where, const std::string& what) {
    const std::string e = parse_error(text);
    EXPECT_NE(e.find(where), std::string::npos) << e;
    EXPECT_NE(e.find(what), std::string::npos) << e;
}

TEST(PolicyFile, TomlSyntaxErrorNamesFileAndLine) {
    expect_error("[[rule]]\nname = \"a\"\naction = allow\n", "policy.toml:3:", "");
}

TEST(PolicyFile, UnknownKeysAreErrors) {
    expect_error("[[rule]]\nname = \"a\"\naction = \"allow\"\nexes = [\"/usr/bin/x\"]\n",
                 "policy.toml:4: rule 1: ", "unknown key 'exes'");
    expect_error("rules = []\n", "policy.toml:1: ", "unknown key 'rules'");
    expect_error("[ssh]\nnamespaces = [\"git\"]\n",
                 "policy.toml:2: [ssh]: ", "unknown key 'namespaces'");
}

TEST(PolicyFile, UnknownValuesAreErrors) {
    expect_error("[[rule]]\nname = \"a\"\n\naction = \"alow\"\n",
                 "policy.toml:4: rule 1: ", "'action' must be one of");
    expect_error("[[rule]]\nname = \"a\"\nchannel = [\"ssh\", \"smtp\"]\naction = \"deny\"\n",
                 "policy.toml:3: rule 1: ", "'channel': unknown value 'smtp'");
    expect_error("[[rule]]\nname = \"a\"\noperation = [\"sgin\"]\naction = \"deny\"\n",
                 "policy.toml:3:", "'operation': unknown value 'sgin'");
    expect_error("[[rule]]\nname = \"a\"\nsession = [\"seat\"]\naction = \"deny\"\n",
                 "policy.toml:3:", "'session': unknown value 'seat'");
    expect_error("[[rule]]\nname = \"a\"\nforwarded = \"yes\"\naction = \"deny\"\n",
                 "policy.toml:3:", "'forwarded' must be true or false");
    expect_error("[[rule]]\nname = \"a\"\nat_seat = \"no\"\naction = \"deny\"\n",
                 "policy.toml:3:", "'at_seat' must be true or false");
    expect_error("[[rule]]\nname = \"a\"\nkey = [\"Signature key\"]\naction = \"deny\"\n",
                 "policy.toml:3:", "is not \"id:<key id>\"");
    expect_error(
        "[[rule]]\nname = \"a\"\nkey = [\"pkcs11:object=a;pin-value=1\"]\naction = \"deny\"\n",
        "policy.toml:3:", "pin-value");
    expect_error("[[rule]]\nname = \"a\"\nexe = [\"ssh\"]\naction = \"deny\"\n",
                 "policy.toml:3:", "'exe': 'ssh' is not an absolute path");
    expect_error("[[rule]]\nname = \"a\"\nexe = []\naction = \"deny\"\n",
                 "policy.toml:3:", "'exe' must be a non-empty array");
    expect_error("[[rule]]\nname = \"a\"\nexe = \"/usr/bin/ssh\"\naction = \"deny\"\n",
                 "policy.toml:3:", "'exe' must be an array of strings");
}

TEST(PolicyFile, ARuleNeedsANameAndAnAction) {
    expect_error("[[rule]]\naction = \"deny\"\n", "policy.toml:1: rule 1: ", "needs a name");
    expect_error("[[rule]]\nname = \"a\"\naction = \"deny\"\n[[rule]]\nname = \"b\"\n",
                 "policy.toml:4: rule 2: ", "needs an action");
}

TEST(PolicyFile, RememberOnlyWithConfirmAndNeverNegative) {
    expect_error("[[rule]]\nname = \"a\"\naction = \"allow\"\nremember = 60\n",
                 "policy.toml:4:", "'remember' is only for action = \"confirm\"");
    expect_error("[[rule]]\nname = \"a\"\naction = \"confirm\"\nremember = -1\n",
                 "policy.toml:4:", "'remember' must be a whole number of seconds");
    expect_error("[[rule]]\nname = \"a\"\naction = \"confirm\"\nremember = 1.5\n",
                 "policy.toml:4:", "'remember' must be a whole number of seconds");
}

TEST(PolicyFile, RememberIsCapped) {
    const auto p =
        parsed("[[rule]]\nname = \"long\"\naction = \"confirm\"\nremember = 999999999\n");
    const auto d = asked().of(p);
    EXPECT_EQ(d.verdict, Verdict::confirm);
    EXPECT_EQ(d.remember, agent::kMaxRemember);
    const auto short_one =
        asked().of(parsed("[[rule]]\nname = \"s\"\naction = \"confirm\"\nremember = 300\n"));
    EXPECT_EQ(short_one.remember, std::chrono::seconds(300));
}

TEST(PolicyFile, SshsigNamespaces) {
    EXPECT_TRUE(parsed("").sshsig_namespace_allowed("git"));
    EXPECT_TRUE(parsed("").sshsig_namespace_allowed("file"));
    EXPECT_FALSE(parsed("").sshsig_namespace_allowed("email"));
    const auto p = parsed("[ssh]\nsshsig_namespaces = [\"email\"]\n");
    EXPECT_TRUE(p.sshsig_namespace_allowed("email"));
    EXPECT_FALSE(p.sshsig_namespace_allowed("git"));
    EXPECT_FALSE(parsed("[ssh]\nsshsig_namespaces = []\n").sshsig_namespace_allowed("git"));
}

TEST(PolicyFile, AnEmptyPolicyDeniesAndSaysWhy) {
    const auto d = asked().of(parsed("", "/etc/attache/policy.toml"));
    EXPECT_EQ(d.verdict, Verdict::deny);
    EXPECT_EQ(d.rule, "/etc/attache/policy.toml: no rule matches, so it is denied");
}

}  // namespace
}  // namespace attache::testing
