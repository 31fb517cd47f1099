#pragma once

// Firefox ESR and Thunderbird with attache-pkcs11.so as an administrator deploys it: an
// enterprise policy (policies.json, SecurityDevices) in a directory the application reads,
// never modutil on the profile. The policy file is the test's own: the application runs in a
// private mount namespace where its policy directory is a copy of the real one with the
// test's policies.json added (bind-mounted), so nothing is written to the system and tests
// run in parallel, each with its own policy.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/forwarding/forwarding_fixture.h"

namespace attache::testing {

// Where one application reads its enterprise policy.
struct MozillaApp {
    std::string name;        // for messages: "firefox-esr"
    std::string executable;  // /usr/bin/firefox-esr
    // A directory the application reads policies from that exists on Debian 12 (a bind mount
    // needs an existing target), and the policy file's place in it.
    std::filesystem::path policy_dir;
    std::filesystem::path policy_file;
};

// Firefox ESR: the installation's distribution directory (/usr/lib/firefox-esr/distribution;
// Debian's /etc/firefox/policies does not exist until an administrator makes it).
const MozillaApp& firefox_app();
// Thunderbird: Debian's system policy directory, /etc/thunderbird/policies.
const MozillaApp& thunderbird_app();

class MozillaClientTest : public ForwardingTest {
  protected:
    explicit MozillaClientTest(const MozillaApp& app) : app_(app) {}
    // Skips when the application is missing, in the sanitizer build, or where no mount
    // namespace can be made.
    void SetUp() override;

    // A fresh profile: an NSS database that trusts the test CA (and has no module: the test
    // checks that), and user.js with `prefs`.
    void make_profile(const std::string& prefs);
    // The policy: SecurityDevices adds attache-pkcs11.so as "Attache", and `more_policies`
    // (JSON members, comma-first: `, "Preferences": {...}`).
    void write_policy(const std::string& more_policies = {});
    // argv (the application) run where the application reads the test's policy.
    std::vector<std::string> under_policy(const std::vector<std::string>& argv) const;
    // The environment for the application: the module's, a private HOME, headless.
    std::map<std::string, std::string> app_env() const;

    // The profile's PKCS#11 modules as modutil lists them (the module's library path appears
    // once it is there).
    std::string profile_modules();
    // The profile's NSS database has no module for attache-pkcs11.so (asserted before the
    // start, so that a module listed afterwards came from the policy).
    void expect_module_not_in_profile();

    const MozillaApp& app_;
    std::filesystem::path profile_;
    std::string ca_file_;
    std::filesystem::path policy_copy_;  // the test's copy of app_.policy_dir
};

}  // namespace attache::testing
