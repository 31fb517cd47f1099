// The admin's policy and the user's on top; the shipped default; loading at start-up.

#include <gtest/gtest.h>

#include "agent/config/config.h"
#include "agent/policy/policy_loader.h"
#include "tests/policy/policy_test_support.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {
namespace {

using agent::Channel;
using agent::OperationKind;
using agent::Policy;
using agent::SessionKind;
using agent::Verdict;

Policy all(const std::string& action, const std::string& origin, const std::string& extra = {}) {
    return parsed("[[rule]]\nname = \"all\"\naction = \"" + action + "\"\n" + extra, origin);
}

TEST(PolicyLayers, TheUserCannotWeakenTheAdmin) {
    const auto admin_confirm = all("confirm", "admin", "remember = 60\n");
    const auto admin_deny = all("deny", "admin");
    const auto user_allow = all("allow", "user");
    const auto d = asked().of(Policy::layered(admin_confirm, user_allow));
    EXPECT_EQ(d.verdict, Verdict::confirm);
    EXPECT_EQ(d.rule, "admin rule 1 'all'");
    EXPECT_EQ(d.remember, std::chrono::seconds(60));
    EXPECT_EQ(asked().verdict(Policy::layered(admin_deny, user_allow)), Verdict::deny);
    EXPECT_EQ(asked().verdict(Policy::layered(admin_deny, all("confirm", "user"))), Verdict::deny);
    // A user file with no rules matches nothing, which denies: it cannot pass through either.
    EXPECT_EQ(asked().verdict(Policy::layered(all("allow", "admin"), parsed("", "user"))),
              Verdict::deny);
}

TEST(PolicyLayers, TheUserCanTighten) {
    const auto d = asked().of(Policy::layered(all("allow", "admin"), all("deny", "user")));
    EXPECT_EQ(d.verdict, Verdict::deny);
    EXPECT_EQ(d.rule, "user rule 1 'all'");
    EXPECT_EQ(asked().verdict(Policy::layered(all("allow", "admin"), all("confirm", "user"))),
              Verdict::confirm);
}

TEST(PolicyLayers, TwoConfirmsRememberTheShorter) {
    const auto a = all("confirm", "admin", "remember = 600\n");
    const auto u = all("confirm", "user", "remember = 30\n");
    EXPECT_EQ(asked().of(Policy::layered(a, u)).remember, std::chrono::seconds(30));
    EXPECT_EQ(asked().of(Policy::layered(u, a)).remember, std::chrono::seconds(30));
    EXPECT_EQ(asked().of(Policy::layered(a, all("confirm", "user"))).remember,
              std::chrono::seconds(0));
}

TEST(PolicyLayers, SshsigNamespacesOnlyNarrow) {
    const auto admin = parsed("[ssh]\nsshsig_namespaces = [\"git\", \"file\", \"email\"]\n");
    const auto narrow = Policy::layered(admin, parsed("[ssh]\nsshsig_namespaces = [\"git\"]\n"));
    EXPECT_TRUE(narrow.sshsig_namespace_allowed("git"));
    EXPECT_FALSE(narrow.sshsig_namespace_allowed("email"));
    const auto wider = Policy::layered(admin, parsed("[ssh]\nsshsig_namespaces = [\"x\"]\n"));
    EXPECT_FALSE(wider.sshsig_namespace_allowed("x"));
    // A user file without [ssh] leaves the admin's list alone.
    EXPECT_TRUE(Policy::layered(admin, parsed("")).sshsig_namespace_allowed("email"));
}

TEST(PolicyDefault, TheBuiltInIsTheShippedFile) {
    const std::string shipped =
        read_file(std::filesystem::path(ATTACHE_SOURCE_DIR) / "agent/policy/default-policy.toml");
    EXPECT_EQ(std::string(Policy::builtin_default_text()), shipped);
    auto p = Policy::parse(shipped, "default-policy.toml");
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(asked().of(Policy::builtin_default()).rule,
              "built-in default rule 6 'everything else'");
}

TEST(PolicyDefault, Decisions) {
    const auto p = Policy::builtin_default();
    const auto ssh = asked().channel(Channel::ssh).exe("/usr/bin/ssh");
    EXPECT_EQ(Asked(ssh).forwarded().verdict(p), Verdict::deny);
    EXPECT_EQ(Asked(ssh).forwarded().of(p).rule, "built-in default rule 1 'forwarded ssh agents'");
    EXPECT_EQ(Asked(ssh).verdict(p), Verdict::allow);
    EXPECT_EQ(Asked(ssh).op(OperationKind::decrypt).verdict(p), Verdict::confirm);
    EXPECT_EQ(Asked(ssh).session(SessionKind::remote).verdict(p), Verdict::deny);
    for (auto op : {OperationKind::unlock, OperationKind::lock, OperationKind::list}) {
        EXPECT_EQ(asked().op(op).verdict(p), Verdict::allow);
        EXPECT_EQ(asked().op(op).session(SessionKind::remote).verdict(p), Verdict::deny);
    }
    for (const char* exe :
         {"/usr/bin/attache", "/usr/local/bin/attache", "/usr/lib/thunderbird/thunderbird",
          "/usr/lib/firefox-esr/firefox-esr"}) {
        for (auto op : {OperationKind::sign, OperationKind::decrypt, OperationKind::derive}) {
            EXPECT_EQ(asked().exe(exe).op(op).verdict(p), Verdict::allow) << exe;
            EXPECT_EQ(asked().exe(exe).channel(Channel::forwarding_module).op(op).verdict(p),
                      Verdict::allow)
                << exe;
        }
        EXPECT_EQ(asked().exe(exe).session(SessionKind::remote).verdict(p), Verdict::deny);
    }
    const auto other = asked().exe("/usr/bin/python3").of(p);
    EXPECT_EQ(other.verdict, Verdict::confirm);
    EXPECT_EQ(other.remember, std::chrono::seconds(0));
    EXPECT_EQ(asked().exe("?").verdict(p), Verdict::confirm);
    EXPECT_TRUE(p.sshsig_namespace_allowed("git"));
    EXPECT_TRUE(p.sshsig_namespace_allowed("file"));
    EXPECT_FALSE(p.sshsig_namespace_allowed("email"));
}

TEST(PolicyManaged, TheShippedFileRefusesClientsNotAtTheSeatFirst) {
    const std::string shipped =
        read_file(std::filesystem::path(ATTACHE_SOURCE_DIR) / "agent/policy/managed-policy.toml");
    auto parsed_file = Policy::parse(shipped, "managed-policy.toml");
    ASSERT_TRUE(parsed_file) << parsed_file.error().message();
    const Policy& p = *parsed_file;
    // Whatever else holds, a client not at the seat is refused by the first rule, by name.
    for (auto op : {OperationKind::sign, OperationKind::decrypt, OperationKind::unlock,
                    OperationKind::list}) {
        for (auto channel : {Channel::native, Channel::forwarding_module, Channel::ssh}) {
            const auto d = asked().at_seat(false).channel(channel).op(op).of(p);
            EXPECT_EQ(d.verdict, Verdict::deny);
            EXPECT_EQ(d.rule, "managed-policy.toml rule 1 'not at the holder's seat'");
        }
    }
    // At the seat: the default's rules, without allows by executable (the broker sees "?").
    const auto here = asked().at_seat(true);
    EXPECT_EQ(Asked(here).channel(Channel::ssh).forwarded().verdict(p), Verdict::deny);
    EXPECT_EQ(Asked(here).op(OperationKind::unlock).verdict(p), Verdict::allow);
    EXPECT_EQ(Asked(here).op(OperationKind::list).verdict(p), Verdict::allow);
    EXPECT_EQ(Asked(here).channel(Channel::ssh).verdict(p), Verdict::allow);
    EXPECT_EQ(Asked(here).exe("?").verdict(p), Verdict::confirm);
    EXPECT_EQ(Asked(here).exe("/usr/bin/attache").verdict(p), Verdict::confirm);
    EXPECT_EQ(Asked(here)
                  .exe("?")
                  .channel(Channel::forwarding_module)
                  .op(OperationKind::decrypt)
                  .of(p)
                  .rule,
              "managed-policy.toml rule 5 'everything else'");
    EXPECT_TRUE(p.sshsig_namespace_allowed("git"));
    EXPECT_FALSE(p.sshsig_namespace_allowed("email"));
}

class PolicyLoader : public ::testing::Test {
  protected:
    agent::Config config() {
        agent::Config c;
        c.policy = (dir_ / "admin.toml").string();
        return c;
    }
    TempDir dir_{"attache-policy"};
};

TEST_F(PolicyLoader, NoFilesGiveTheBuiltInDefault) {
    auto p = agent::load_policy(config(), dir_ / "user.toml");
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(asked().of(*p).rule, "built-in default rule 6 'everything else'");
}

TEST_F(PolicyLoader, TheAdminFileReplacesTheDefault) {
    write_file(dir_ / "admin.toml", "[[rule]]\nname = \"all\"\naction = \"allow\"\n");
    auto p = agent::load_policy(config(), {});
    ASSERT_TRUE(p) << p.error().message();
    const auto d = asked().of(*p);
    EXPECT_EQ(d.verdict, Verdict::allow);
    EXPECT_EQ(d.rule, (dir_ / "admin.toml").string() + " rule 1 'all'");
}

TEST_F(PolicyLoader, TheUserFileLayersOnTopOfTheDefault) {
    write_file(dir_ / "user.toml",
               "[[rule]]\nname = \"no thunderbird\"\nexe = [\"/usr/lib/thunderbird/*\"]\n"
               "action = \"deny\"\n[[rule]]\nname = \"rest\"\naction = \"allow\"\n");
    auto p = agent::load_policy(config(), dir_ / "user.toml");
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(asked().exe("/usr/lib/thunderbird/thunderbird").verdict(*p), Verdict::deny);
    EXPECT_EQ(asked().exe("/usr/bin/attache").verdict(*p), Verdict::allow);
    EXPECT_EQ(asked().exe("/usr/bin/python3").verdict(*p), Verdict::confirm) << "not weakened";
}

TEST_F(PolicyLoader, AMalformedFileIsAnErrorNamingFileAndLine) {
    write_file(dir_ / "admin.toml", "[[rule]]\nname = \"a\"\naction = \"maybe\"\n");
    auto p = agent::load_policy(config(), {});
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message().find((dir_ / "admin.toml").string() + ":3: rule 1: 'action'"),
              std::string::npos)
        << p.error().message();
    write_file(dir_ / "admin.toml", "");
    write_file(dir_ / "user.toml", "[[rule]]\nname = \"a\"\nactoin = \"deny\"\n");
    auto u = agent::load_policy(config(), dir_ / "user.toml");
    ASSERT_FALSE(u);
    EXPECT_NE(u.error().message().find((dir_ / "user.toml").string() + ":3:"), std::string::npos)
        << u.error().message();
}

TEST_F(PolicyLoader, AnUnreadableFileIsAnError) {
    std::filesystem::create_directory(dir_ / "admin.toml");  // present, but not a readable file
    auto p = agent::load_policy(config(), {});
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message().find("admin.toml"), std::string::npos) << p.error().message();
}

TEST(PolicyConfig, OnlyTheAdminNamesThePolicyFile) {
    agent::Config c;
    EXPECT_EQ(c.policy, "/etc/attache/policy.toml");
    ASSERT_TRUE(
        agent::apply_config_text(c, "policy = \"/etc/site/policy.toml\"", "agent.toml", false));
    EXPECT_EQ(c.policy, "/etc/site/policy.toml");
    auto user = agent::apply_config_text(c, "\npolicy = \"/tmp/mine.toml\"", "user.toml", true);
    ASSERT_FALSE(user);
    EXPECT_NE(user.error().message().find("user.toml:2: 'policy' may only be set in the admin's"),
              std::string::npos)
        << user.error().message();
    EXPECT_EQ(c.policy, "/etc/site/policy.toml");
}

}  // namespace
}  // namespace attache::testing
