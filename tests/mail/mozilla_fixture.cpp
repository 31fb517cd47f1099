#include "tests/mail/mozilla_fixture.h"

#include <unistd.h>

#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace fs = std::filesystem;

const MozillaApp& firefox_app() {
    static const MozillaApp app{"firefox-esr", "/usr/bin/firefox-esr",
                                "/usr/lib/firefox-esr/distribution", "policies.json"};
    return app;
}

const MozillaApp& thunderbird_app() {
    static const MozillaApp app{"thunderbird", "/usr/bin/thunderbird", "/etc/thunderbird",
                                "policies/policies.json"};
    return app;
}

namespace {

// unshare's arguments for a private mount namespace: as root directly, otherwise inside a
// user namespace (the application then runs as root there and as the test's user outside,
// which is what the agent sees).
std::vector<std::string> mount_namespace() {
    std::vector<std::string> argv{"unshare", "--mount", "--propagation", "private"};
    if (geteuid() != 0)
        argv.insert(argv.begin() + 1, {"--user", "--map-root-user"});
    return argv;
}

}  // namespace

void MozillaClientTest::SetUp() {
#ifdef ATTACHE_ASAN_RUNTIME
    // The sanitizer build's module needs ASan's runtime preloaded into the program that loads
    // it; Firefox and Thunderbird replace malloc and are not run that way here.
    GTEST_SKIP() << app_.name << " cannot load the AddressSanitizer build of the module";
#endif
    if (access(app_.executable.c_str(), X_OK) != 0)
        GTEST_SKIP() << app_.name << " is not installed (scripts/install-deps.sh installs it)";
    if (!fs::is_directory(app_.policy_dir))
        GTEST_SKIP() << app_.policy_dir << " is missing: not Debian's " << app_.name << " package";
    auto probe = mount_namespace();
    probe.push_back("true");
    if (auto r = run_command(probe); r.exit_code != 0)
        GTEST_SKIP() << "cannot make a private mount namespace for the test's policy "
                        "(unshare --mount; as non-root it needs user namespaces): "
                     << describe(r);
}

void MozillaClientTest::make_profile(const std::string& prefs) {
    profile_ = agent_.dir() / (app_.name + "-profile");
    fs::create_directories(profile_);
    const std::string db = "sql:" + profile_.string();
    ca_file_ = write("ca.pem", ca_.cert_pem());
    for (const std::vector<std::string>& argv :
         {std::vector<std::string>{"certutil", "-N", "-d", db, "--empty-password"},
          {"certutil", "-A", "-d", db, "-n", "test-ca", "-t", "CT,C,C", "-a", "-i", ca_file_}}) {
        auto r = run_command(argv, {}, tool_env());
        ASSERT_EQ(r.exit_code, 0) << describe(r);
    }
    write_file(profile_ / "user.js", prefs);
}

void MozillaClientTest::write_policy(const std::string& more_policies) {
    const std::string module = forwarding_module_path();
    // The path goes into JSON unescaped.
    ASSERT_EQ(module.find_first_of("\"\\"), std::string::npos) << module;
    // The real directory's files stay visible (Debian's preferences in /etc/thunderbird/pref,
    // Firefox's search plugins): the copy replaces the directory only in the namespace.
    policy_copy_ = agent_.dir() / (app_.name + "-policy-dir");
    fs::copy(app_.policy_dir, policy_copy_, fs::copy_options::recursive);
    const fs::path file = policy_copy_ / app_.policy_file;
    fs::create_directories(file.parent_path());
    write_file(file, R"({"policies": {"SecurityDevices": {"Add": {"Attache": ")" + module + "\"}}" +
                         more_policies + "}}\n");
}

std::vector<std::string> MozillaClientTest::under_policy(
    const std::vector<std::string>& argv) const {
    // unshare and sh exec the application: it keeps the pid the test stops it by.
    std::vector<std::string> wrapped = mount_namespace();
    wrapped.insert(wrapped.end(),
                   {"sh", "-c", "mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"",
                    "attache-policy", policy_copy_.string(), app_.policy_dir.string()});
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
}

std::map<std::string, std::string> MozillaClientTest::app_env() const {
    auto env = tool_env();
    env["HOME"] = agent_.dir().path().string();
    env["MOZ_HEADLESS"] = "1";
    return env;
}

std::string MozillaClientTest::profile_modules() {
    auto r =
        run_command({"modutil", "-dbdir", "sql:" + profile_.string(), "-list"}, {}, tool_env());
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.out;
}

void MozillaClientTest::expect_module_not_in_profile() {
    const std::string modules = profile_modules();
    EXPECT_EQ(modules.find(forwarding_module_path()), std::string::npos) << modules;
    EXPECT_EQ(modules.find("Attache"), std::string::npos) << modules;
}

}  // namespace attache::testing
