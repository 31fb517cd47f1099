// Which rule matches a request: first match wins, each field on its own.

#include <gtest/gtest.h>

#include "tests/policy/policy_test_support.h"

namespace attache::testing {
namespace {

using agent::Channel;
using agent::OperationKind;
using agent::SessionKind;
using agent::Verdict;

// A policy of one rule with `fields`, allowing, followed by a rule denying the rest.
agent::Policy only(const std::string& fields) {
    return parsed("[[rule]]\nname = \"r\"\n" + fields + "\naction = \"allow\"\n" +
                  "[[rule]]\nname = \"rest\"\naction = \"deny\"\n");
}

TEST(PolicyMatch, FirstMatchingRuleWinsAndIsNamed) {
    const auto p = parsed(R"(
[[rule]]
name = "ssh first"
channel = ["ssh"]
action = "confirm"
remember = 60
[[rule]]
name = "all"
action = "allow"
[[rule]]
name = "never reached"
channel = ["ssh"]
action = "deny"
)",
                          "/etc/attache/policy.toml");
    const auto ssh = asked().channel(Channel::ssh).of(p);
    EXPECT_EQ(ssh.verdict, Verdict::confirm);
    EXPECT_EQ(ssh.remember, std::chrono::seconds(60));
    EXPECT_EQ(ssh.rule, "/etc/attache/policy.toml rule 1 'ssh first'");
    const auto native = asked().of(p);
    EXPECT_EQ(native.verdict, Verdict::allow);
    EXPECT_EQ(native.rule, "/etc/attache/policy.toml rule 2 'all'");
    EXPECT_EQ(native.remember, std::chrono::seconds(0));
}

TEST(PolicyMatch, Channel) {
    const auto p = only("channel = [\"native\", \"pkcs11\"]");
    EXPECT_EQ(asked().channel(Channel::native).verdict(p), Verdict::allow);
    EXPECT_EQ(asked().channel(Channel::forwarding_module).verdict(p), Verdict::allow);
    EXPECT_EQ(asked().channel(Channel::ssh).verdict(p), Verdict::deny);
}

TEST(PolicyMatch, Forwarded) {
    const auto yes = only("forwarded = true");
    EXPECT_EQ(asked().channel(Channel::ssh).forwarded().verdict(yes), Verdict::allow);
    EXPECT_EQ(asked().channel(Channel::ssh).verdict(yes), Verdict::deny);
    // Only ssh.sock knows forwarding: a native request is never forwarded.
    EXPECT_EQ(asked().channel(Channel::native).forwarded().verdict(yes), Verdict::deny);
    const auto no = only("forwarded = false");
    EXPECT_EQ(asked().channel(Channel::ssh).verdict(no), Verdict::allow);
    EXPECT_EQ(asked().channel(Channel::ssh).forwarded().verdict(no), Verdict::deny);
    EXPECT_EQ(asked().channel(Channel::native).verdict(no), Verdict::allow);
}

TEST(PolicyMatch, AtSeat) {
    const auto yes = only("at_seat = true");
    EXPECT_EQ(asked().at_seat(true).verdict(yes), Verdict::allow);
    EXPECT_EQ(asked().at_seat(false).verdict(yes), Verdict::deny);
    const auto no = only("at_seat = false");
    EXPECT_EQ(asked().at_seat(false).verdict(no), Verdict::allow);
    EXPECT_EQ(asked().at_seat(true).verdict(no), Verdict::deny);
    // Left out, it matches both.
    const auto any = only("channel = [\"native\"]");
    EXPECT_EQ(asked().at_seat(true).verdict(any), Verdict::allow);
    EXPECT_EQ(asked().at_seat(false).verdict(any), Verdict::allow);
}

TEST(PolicyMatch, ExeIsAnFnmatchPatternOverPathComponents) {
    const auto p = only("exe = [\"/usr/bin/ssh\", \"/usr/lib/thunderbird/*\"]");
    EXPECT_EQ(asked().exe("/usr/bin/ssh").verdict(p), Verdict::allow);
    EXPECT_EQ(asked().exe("/usr/lib/thunderbird/thunderbird").verdict(p), Verdict::allow);
    // FNM_PATHNAME: '*' stays within one directory.
    EXPECT_EQ(asked().exe("/usr/lib/thunderbird/plugins/evil").verdict(p), Verdict::deny);
    EXPECT_EQ(asked().exe("/usr/bin/ssh-keygen").verdict(p), Verdict::deny);
    EXPECT_EQ(asked().exe("/home/u/usr/bin/ssh").verdict(p), Verdict::deny);
    // An executable the agent could not read matches no pattern, not even "/*".
    EXPECT_EQ(asked().exe("?").verdict(only("exe = [\"/*\", \"/*/*\"]")), Verdict::deny);
}

TEST(PolicyMatch, KeyByIdLabelOrUri) {
    const auto sig = key("k-sig", "Signature key");
    const auto enc = key("k-enc", "Encryption key");
    const auto bobs = key("k-bob", "Signature key", "bob");

    const auto by_id = only("key = [\"id:k-sig\"]");
    EXPECT_EQ(asked().with_key(sig).verdict(by_id), Verdict::allow);
    EXPECT_EQ(asked().with_key(enc).verdict(by_id), Verdict::deny);

    const auto by_label = only("key = [\"label:Signature key\"]");
    EXPECT_EQ(asked().with_key(sig).verdict(by_label), Verdict::allow);
    EXPECT_EQ(asked().with_key(bobs).verdict(by_label), Verdict::allow);
    EXPECT_EQ(asked().with_key(enc).verdict(by_label), Verdict::deny);

    const auto by_uri = only("key = [\"pkcs11:token=alice;object=Signature%20key\"]");
    EXPECT_EQ(asked().with_key(sig).verdict(by_uri), Verdict::allow);
    EXPECT_EQ(asked().with_key(bobs).verdict(by_uri), Verdict::deny) << "another token";
    EXPECT_EQ(asked().with_key(enc).verdict(by_uri), Verdict::deny);
    EXPECT_EQ(asked().with_key(sig).verdict(only("key = [\"pkcs11:serial=0001;type=private\"]")),
              Verdict::allow);
    EXPECT_EQ(asked().with_key(sig).verdict(only("key = [\"pkcs11:model=Other\"]")), Verdict::deny);
    // An attribute the key's URI lacks is a mismatch, never a wildcard.
    agent::PolicyKey bare{"k-bare", "pkcs11:object=Signature%20key", "Signature key", ""};
    EXPECT_EQ(asked().with_key(bare).verdict(by_uri), Verdict::deny);

    // Requests that name no key match no key rule.
    EXPECT_EQ(asked().op(OperationKind::list).verdict(by_label), Verdict::deny);
    EXPECT_EQ(asked().op(OperationKind::unlock).verdict(by_uri), Verdict::deny);
}

TEST(PolicyMatch, Operation) {
    const auto p = only("operation = [\"decrypt\", \"lock\"]");
    EXPECT_EQ(asked().op(OperationKind::decrypt).verdict(p), Verdict::allow);
    EXPECT_EQ(asked().op(OperationKind::lock).verdict(p), Verdict::allow);
    EXPECT_EQ(asked().op(OperationKind::sign).verdict(p), Verdict::deny);
    EXPECT_EQ(asked().op(OperationKind::derive).verdict(p), Verdict::deny);
    EXPECT_EQ(asked().op(OperationKind::unlock).verdict(p), Verdict::deny);
}

TEST(PolicyMatch, Session) {
    const auto p = only("session = [\"local\", \"none\"]");
    EXPECT_EQ(asked().session(SessionKind::local).verdict(p), Verdict::allow);
    EXPECT_EQ(asked().session(SessionKind::none).verdict(p), Verdict::allow);
    EXPECT_EQ(asked().session(SessionKind::remote).verdict(p), Verdict::deny);
}

TEST(PolicyMatch, EveryFieldOfARuleMustMatch) {
    const auto p = only(
        "channel = [\"native\"]\nexe = [\"/usr/bin/attache\"]\noperation = [\"sign\"]\n"
        "session = [\"local\"]\nkey = [\"id:k1\"]");
    const auto all = asked().exe("/usr/bin/attache");
    EXPECT_EQ(all.verdict(p), Verdict::allow);
    EXPECT_EQ(Asked(all).channel(Channel::ssh).verdict(p), Verdict::deny);
    EXPECT_EQ(Asked(all).exe("/usr/bin/other").verdict(p), Verdict::deny);
    EXPECT_EQ(Asked(all).op(OperationKind::decrypt).verdict(p), Verdict::deny);
    EXPECT_EQ(Asked(all).session(SessionKind::remote).verdict(p), Verdict::deny);
    EXPECT_EQ(Asked(all).with_key(key("k2", "x")).verdict(p), Verdict::deny);
}

}  // namespace
}  // namespace attache::testing
