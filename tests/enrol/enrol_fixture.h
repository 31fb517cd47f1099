#pragma once

// The enrolment tests' fixture: a private SoftHSM2 with tokens, a directory for the inventory,
// the requests and a throwaway CA, and helpers that run the built `attache` binary (and
// openssl, pkcs11-tool, sqlite3) as real processes.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/command.h"
#include "tests/support/softhsm.h"
#include "tests/support/temp_dir.h"

namespace attache::enrol_test {

using testing::CommandResult;

// PINs reach attache through these variables (--pin-source env:NAME), never argv.
inline constexpr const char* kPinVar = "ATTACHE_TEST_PIN";
inline constexpr const char* kSoPinVar = "ATTACHE_TEST_SO_PIN";
inline constexpr const char* kNewPinVar = "ATTACHE_TEST_NEW_PIN";
inline constexpr const char* kNewPin = "24681357";

// One object as `pkcs11-tool --list-objects` shows it.
struct CardObject {
    std::string kind;  // "Private Key", "Public Key", "Certificate", "Data"
    std::string label;
    std::string id;
    std::string usage;
    std::string access;
};

class EnrolTest : public ::testing::Test {
  protected:
    EnrolTest();

    static const std::string& softhsm_module() { return testing::SoftHsm::module_path(); }
    std::string inventory() const { return (dir_ / "inventory.db").string(); }
    std::string out_dir() const { return (dir_ / "requests").string(); }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    // A new token with the default PINs; returns its serial number.
    std::string add_token(const std::string& label);
    static std::string uri(const std::string& serial) { return "pkcs11:serial=" + serial; }

    // Runs `attache args...` with the test PINs in the environment (plus `env`).
    CommandResult attache(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env = {},
                          const std::string& input = {});
    // `attache enrol --json` on the token with serial `serial`, with the fixture's module,
    // inventory and output directory and the user PIN from the environment.
    CommandResult enrol(const std::string& serial, const std::string& key_type,
                        const std::vector<std::string>& extra = {},
                        const std::map<std::string, std::string>& env = {});
    CommandResult import_certificate(const std::string& serial, const std::string& cert,
                                     const std::vector<std::string>& extra = {});
    CommandResult verify_card(const std::string& serial);

    // Parses a command's JSON output; a test failure when it is not JSON.
    static nlohmann::json json_of(const CommandResult& r);

    // The throwaway CA (an EC P-256 key and a self-signed certificate made with openssl).
    void make_ca();
    std::string ca_cert() const { return path("ca.pem"); }
    // Issues a certificate for `csr` with openssl x509 -req, copying its extensions (or, with
    // `extfile`, taking them from that file); returns the certificate's path.
    std::string issue(const std::string& csr, const std::string& name, int days = 30,
                      const std::string& extfile = {});
    // A certificate for a fresh key made by openssl, not on any card.
    std::string issue_for_outside_key(const std::string& name);

    // The objects on the token labelled `label` (with login: private keys too).
    std::vector<CardObject> objects(const std::string& label, bool login = true);
    // A text snapshot of everything on the token, for "unchanged" checks.
    std::string snapshot(const std::string& label);
    // A file's bytes, or "<absent>".
    static std::string file_state(const std::string& path);
    // Every file of the SoftHSM2 token store with its bytes, for "not even touched" checks.
    std::string card_bytes() const;
    // The inventory's card history, one "event|reason|uid|record" line per event.
    std::vector<std::string> card_events();
    // Runs sqlite3 on the inventory.
    std::string sql(const std::string& statement);

    // The module the helpers pass to attache: SoftHSM2, or the filter module in front of it.
    void use_filter_module(const std::map<std::string, std::string>& behaviour);

    testing::SoftHsm hsm_;
    testing::TempDir dir_{"attache-enrol"};
    std::string module_ = softhsm_module();
    std::map<std::string, std::string> module_env_;
    std::map<std::string, std::string> labels_;  // serial -> label

  private:
    int next_serial_ = 1000;
};

bool contains(const std::string& haystack, const std::string& needle);

}  // namespace attache::enrol_test
