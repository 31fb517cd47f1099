// After enrolment: certificate import (and its refusals), the inventory's states and history,
// retiring a card, the PIN commands, and Ctrl-C in the middle of an enrolment.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "tests/enrol/enrol_fixture.h"

namespace attache::enrol_test {
namespace {

namespace fs = std::filesystem;

// An enrolled card with a CA ready to issue its certificates.
class Enrolled : public EnrolTest {
  protected:
    void SetUp() override {
        serial_ = add_token("card");
        auto r = enrol(serial_, "ec-p256");
        ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
        enrolment_ = json_of(r);
        make_ca();
    }

    std::string csr(int key) const { return enrolment_["keys"][key]["csr"]; }
    std::string key_id(int key) const { return enrolment_["keys"][key]["key_id"]; }

    void import_both() {
        auto a = import_certificate(serial_, issue(csr(0), "auth.pem"));
        ASSERT_EQ(a.exit_code, 0) << testing::describe(a);
        auto e = import_certificate(serial_, issue(csr(1), "enc.pem"));
        ASSERT_EQ(e.exit_code, 0) << testing::describe(e);
        ASSERT_EQ(json_of(e)["state"], "active");
    }

    size_t certificates_on_card() {
        size_t n = 0;
        for (const CardObject& o : objects("card", false))
            n += o.kind == "Certificate";
        return n;
    }

    nlohmann::json record(int id = 1) {
        auto r = attache(
            {"inventory", "show", std::to_string(id), "--inventory", inventory(), "--json"});
        EXPECT_EQ(r.exit_code, 0) << testing::describe(r);
        return json_of(r);
    }

    CommandResult set_state(const std::string& state, const std::string& reason) {
        return attache({"inventory", "set-state", "1", state, "--reason", reason, "--inventory",
                        inventory(), "--json"});
    }

    std::string serial_;
    nlohmann::json enrolment_;
};

TEST_F(Enrolled, CertificateForAnotherKeyIsRefused) {
    const std::string before = snapshot("card");
    auto r = import_certificate(serial_, issue_for_outside_key("mallory"));
    EXPECT_EQ(r.exit_code, 16) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "not on")) << r.err;
    EXPECT_EQ(snapshot("card"), before);
    EXPECT_EQ(record()["state"], "awaiting-certificate");
    EXPECT_TRUE(record()["keys"][0]["certificate"].is_null());
}

TEST_F(Enrolled, ExpiredCertificateIsRefused) {
    const std::string before = snapshot("card");
    auto r = import_certificate(serial_, issue(csr(0), "expired.pem", -1));
    EXPECT_EQ(r.exit_code, 16) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "expired")) << r.err;
    EXPECT_EQ(snapshot("card"), before);
    EXPECT_TRUE(record()["keys"][0]["certificate"].is_null());
}

TEST_F(Enrolled, EncryptionCertificateThatAllowsSignaturesIsRefused) {
    // The encryption key can sign (for its own request); its certificate must not let it.
    testing::write_file(path("sign.ext"), "keyUsage=critical,digitalSignature,keyAgreement\n");
    const std::string before = snapshot("card");
    auto r = import_certificate(serial_, issue(csr(1), "enc-sign.pem", 30, path("sign.ext")));
    EXPECT_EQ(r.exit_code, 16) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "must not allow digitalSignature")) << r.err;
    EXPECT_EQ(snapshot("card"), before);

    testing::write_file(path("none.ext"), "basicConstraints=CA:FALSE\n");
    r = import_certificate(serial_, issue(csr(1), "enc-any.pem", 30, path("none.ext")));
    EXPECT_EQ(r.exit_code, 16) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "no keyUsage")) << r.err;
    EXPECT_EQ(snapshot("card"), before);
}

TEST_F(Enrolled, CertificateMustVerifyAgainstTheGivenChain) {
    const std::string cert = issue(csr(0), "auth.pem");
    auto other =
        testing::run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:P-256", "-nodes", "-keyout", path("other.key"),
                              "-out", path("other.pem"), "-subj", "/CN=Other CA", "-days", "30"});
    ASSERT_EQ(other.exit_code, 0) << testing::describe(other);
    auto r = import_certificate(serial_, cert, {"--chain", path("other.pem")});
    EXPECT_EQ(r.exit_code, 16) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "does not verify")) << r.err;
    EXPECT_EQ(certificates_on_card(), 0u);
}

TEST_F(Enrolled, ReplacingACertificateNeedsReplace) {
    import_both();
    const std::string renewed = issue(csr(0), "auth-renewed.pem");
    auto refused = import_certificate(serial_, renewed);
    EXPECT_EQ(refused.exit_code, 2) << testing::describe(refused);
    EXPECT_TRUE(contains(refused.err, "--replace")) << refused.err;
    auto replaced = import_certificate(serial_, renewed, {"--replace"});
    ASSERT_EQ(replaced.exit_code, 0) << testing::describe(replaced);
    EXPECT_EQ(json_of(replaced)["replaced"], true);
    size_t for_auth = 0;
    for (const CardObject& o : objects("card", false))
        for_auth += o.kind == "Certificate" && o.id == key_id(0);
    EXPECT_EQ(for_auth, 1u);
    auto v = verify_card(serial_);
    EXPECT_EQ(v.exit_code, 0) << testing::describe(v);
}

TEST_F(Enrolled, StatesMoveAsCardManagementAllowsAndKeepTheirHistory) {
    import_both();
    EXPECT_EQ(set_state("suspended", "holder on leave").exit_code, 0);
    EXPECT_EQ(set_state("active", "holder back").exit_code, 0);
    EXPECT_EQ(set_state("awaiting-certificate", "x").exit_code, 2);
    auto in_hand = set_state("retired", "x");
    EXPECT_EQ(in_hand.exit_code, 2);
    EXPECT_TRUE(contains(in_hand.err, "attache retire")) << in_hand.err;
    EXPECT_EQ(set_state("lost", "reported lost in transit").exit_code, 0);
    EXPECT_EQ(set_state("active", "found it").exit_code, 2);
    EXPECT_EQ(set_state("retired", "revoked; the card was never found").exit_code, 0);
    EXPECT_EQ(set_state("suspended", "x").exit_code, 2);
    EXPECT_EQ(set_state("bogus", "x").exit_code, 2);
    // A missing option is CLI11's to report (its own exit code), with nothing changed.
    auto no_reason =
        attache({"inventory", "set-state", "1", "damaged", "--inventory", inventory()});
    EXPECT_NE(no_reason.exit_code, 0) << testing::describe(no_reason);
    EXPECT_TRUE(contains(no_reason.err, "--reason is required")) << no_reason.err;

    auto j = record();
    EXPECT_EQ(j["state"], "retired");
    const auto& events = j["events"];
    // enrolled, two certificates, activation, then four changes by hand.
    ASSERT_EQ(events.size(), 8u) << j.dump(2);
    EXPECT_EQ(events[0]["to"], "awaiting-certificate");
    EXPECT_EQ(events[3]["to"], "active");
    EXPECT_EQ(events[4]["from"], "active");
    EXPECT_EQ(events[4]["to"], "suspended");
    EXPECT_EQ(events[4]["reason"], "holder on leave");
    EXPECT_EQ(events[7]["from"], "lost");
    EXPECT_EQ(events[7]["to"], "retired");
    EXPECT_EQ(events[7]["reason"], "revoked; the card was never found");
    for (const auto& e : events) {
        EXPECT_EQ(e["by"]["uid"], static_cast<std::int64_t>(getuid()));
        EXPECT_FALSE(e["at"].get<std::string>().empty());
    }

    auto retired =
        attache({"inventory", "list", "--state", "retired", "--inventory", inventory(), "--json"});
    EXPECT_EQ(json_of(retired)["records"].size(), 1u);
    auto active =
        attache({"inventory", "list", "--state", "active", "--inventory", inventory(), "--json"});
    EXPECT_EQ(json_of(active)["records"].size(), 0u);

    auto csv = attache({"inventory", "export", "--inventory", inventory()});
    ASSERT_EQ(csv.exit_code, 0) << testing::describe(csv);
    EXPECT_EQ(csv.out.rfind("record,state,holder", 0), 0u) << csv.out;
    EXPECT_TRUE(contains(csv.out, key_id(0))) << csv.out;
    EXPECT_TRUE(contains(csv.out, key_id(1))) << csv.out;
    auto exported = attache({"inventory", "export", "--inventory", inventory(), "--json"});
    ASSERT_EQ(exported.exit_code, 0) << testing::describe(exported);
    auto ej = json_of(exported);
    EXPECT_EQ(ej["schema_version"], 3);
    EXPECT_EQ(ej["records"][0]["events"].size(), 8u);

    // The history is append-only, even for someone with sqlite3.
    auto tamper = testing::run_command({"sqlite3", inventory(), "DELETE FROM events;"});
    EXPECT_NE(tamper.exit_code, 0);
    EXPECT_TRUE(contains(tamper.err, "append-only")) << testing::describe(tamper);
}

TEST_F(Enrolled, RetireNeedsTheTypedSerialThenDestroysTheHoldersObjects) {
    import_both();
    const std::string before = snapshot("card");
    std::vector<std::string> retire = {"retire",    "--module",     softhsm_module(),
                                       "--token",   uri(serial_),   "--inventory",
                                       inventory(), "--pin-source", std::string("env:") + kPinVar,
                                       "--reason",  "holder left"};
    std::vector<std::string> wrong = retire;
    wrong.insert(wrong.end(), {"--confirm", "0000"});
    auto refused = attache(wrong);
    EXPECT_EQ(refused.exit_code, 13) << testing::describe(refused);
    EXPECT_EQ(snapshot("card"), before);
    EXPECT_EQ(record()["state"], "active");

    std::vector<std::string> right = retire;
    right.insert(right.end(), {"--confirm", serial_, "--json"});
    auto done = attache(right);
    ASSERT_EQ(done.exit_code, 0) << testing::describe(done);
    EXPECT_EQ(json_of(done)["destroyed"]["private_keys"], 2);
    EXPECT_EQ(json_of(done)["destroyed"]["certificates"], 2);
    for (const CardObject& o : objects("card"))
        EXPECT_TRUE(o.id != key_id(0) && o.id != key_id(1)) << o.kind << " " << o.label << " left";
    auto j = record();
    EXPECT_EQ(j["state"], "retired");
    EXPECT_EQ(j["events"].back()["reason"], "holder left");

    auto v = verify_card(serial_);
    EXPECT_EQ(v.exit_code, 11) << testing::describe(v);
    // The card can be enrolled again: a new record.
    fs::remove_all(out_dir());
    fs::create_directory(out_dir());
    auto again = enrol(serial_, "ec-p256");
    ASSERT_EQ(again.exit_code, 0) << testing::describe(again);
    EXPECT_EQ(json_of(again)["record"], 2);
}

class PinCommands : public EnrolTest {
  protected:
    void SetUp() override { serial_ = add_token("card"); }

    CommandResult pin(const std::string& action, std::vector<std::string> args,
                      const std::map<std::string, std::string>& env = {},
                      const std::string& input = {}) {
        std::vector<std::string> argv{"pin", action, "--module", module_, "--token", uri(serial_)};
        if (action != "status")
            argv.insert(argv.end(), {"--inventory", inventory()});
        if (action == "unblock")
            argv.insert(argv.end(), {"--reason", "holder forgot the PIN"});
        argv.insert(argv.end(), args.begin(), args.end());
        return attache(argv, env, input);
    }

    std::string serial_;
};

TEST_F(PinCommands, StatusShowsThePinFlagsAndLimits) {
    auto r = pin("status", {"--json"});
    ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
    auto j = json_of(r);
    EXPECT_EQ(j["serial"], serial_);
    EXPECT_EQ(j["user_pin_initialized"], true);
    EXPECT_EQ(j["user_pin_locked"], false);
    EXPECT_EQ(j["so_pin_count_low"], false);
    EXPECT_EQ(j["min_pin_length"], 4);
    EXPECT_EQ(j["max_pin_length"], 255);
    auto text = pin("status", {});
    EXPECT_TRUE(contains(text.out, "PIN flags: none")) << text.out;
}

TEST_F(PinCommands, ChangeChecksTheLengthBeforeTheTokenSeesIt) {
    use_filter_module({{"ATTACHE_FILTER_LOG", path("calls.log")}});
    auto r = pin("change",
                 {"--pin-source", std::string("env:") + kPinVar, "--new-pin-source",
                  std::string("env:") + kNewPinVar},
                 {{kNewPinVar, "12"}});
    EXPECT_EQ(r.exit_code, 2) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "4 to 255")) << r.err;
    EXPECT_TRUE(contains(r.err, "nothing was sent")) << r.err;
    EXPECT_FALSE(fs::exists(path("calls.log")));
}

TEST_F(PinCommands, ChangeThenUnblock) {
    // Both PINs on standard input, one line each.
    auto changed = pin("change", {"--pin-source", "fd:0", "--new-pin-source", "fd:0"}, {},
                       std::string(testing::SoftHsm::kUserPin) + "\n" + kNewPin + "\n");
    ASSERT_EQ(changed.exit_code, 0) << testing::describe(changed);

    auto old_pin = pin("change", {"--pin-source", std::string("env:") + kPinVar, "--new-pin-source",
                                  std::string("env:") + kNewPinVar, "--verbose"});
    EXPECT_EQ(old_pin.exit_code, 5) << testing::describe(old_pin);
    EXPECT_TRUE(contains(old_pin.err, "CKR_PIN_INCORRECT")) << old_pin.err;
    EXPECT_FALSE(contains(old_pin.err, testing::SoftHsm::kUserPin));

    auto wrong_so = pin("unblock",
                        {"--so-pin-source", std::string("env:") + kSoPinVar, "--new-pin-source",
                         std::string("env:") + kPinVar},
                        {{kSoPinVar, "00000000"}});
    EXPECT_EQ(wrong_so.exit_code, 5) << testing::describe(wrong_so);
    EXPECT_TRUE(contains(wrong_so.err, "SO PIN")) << wrong_so.err;

    // SoftHSM2 now reports so-pin-count-low: the SO PIN is not tried again without the
    // operator's explicit go-ahead.
    auto status = pin("status", {"--json"});
    EXPECT_EQ(json_of(status)["so_pin_count_low"], true) << status.out;
    auto refused = pin("unblock", {"--so-pin-source", std::string("env:") + kSoPinVar,
                                   "--new-pin-source", std::string("env:") + kPinVar});
    EXPECT_EQ(refused.exit_code, 12) << testing::describe(refused);
    EXPECT_TRUE(contains(refused.err, "--so-pin-count-low-ok")) << refused.err;

    auto unblocked =
        pin("unblock", {"--so-pin-source", std::string("env:") + kSoPinVar, "--new-pin-source",
                        std::string("env:") + kPinVar, "--so-pin-count-low-ok", "--json"});
    ASSERT_EQ(unblocked.exit_code, 0) << testing::describe(unblocked);
    EXPECT_EQ(json_of(unblocked)["so_pin_count_low"], false) << unblocked.out;
    // The PIN set by the SO works.
    auto back = pin("change", {"--pin-source", std::string("env:") + kPinVar, "--new-pin-source",
                               std::string("env:") + kNewPinVar});
    EXPECT_EQ(back.exit_code, 0) << testing::describe(back);
}

// Runs argv, sends SIGINT once its standard error shows `marker`, and waits for it.
CommandResult interrupt_when(const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env,
                             const std::string& marker) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe2");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        for (const auto& [k, v] : env)
            setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    CommandResult result;
    bool signalled = false, out_open = true, err_open = true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (out_open || err_open) {
        pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
        if (poll(fds, 2, 1000) < 0 && errno != EINTR)
            break;
        char buf[4096];
        for (int i = 0; i < 2; ++i) {
            bool& open_flag = i == 0 ? out_open : err_open;
            if (!open_flag || fds[i].revents == 0)
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n > 0)
                (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
            else
                open_flag = false;
        }
        if (!signalled && contains(result.err, marker)) {
            kill(pid, SIGINT);
            signalled = true;
        }
        if (std::chrono::steady_clock::now() > deadline)
            kill(pid, SIGKILL);
    }
    close(out[0]);
    close(err[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

TEST_F(EnrolTest, InterruptDuringGenerationLeavesCardAndInventoryClean) {
    const std::string serial = add_token("card");
    const std::string before = snapshot("card");
    use_filter_module({{"ATTACHE_FILTER_KEYGEN_DELAY_MS", "1500"}});
    std::map<std::string, std::string> env = module_env_;
    env[kPinVar] = testing::SoftHsm::kUserPin;
    env["SOFTHSM2_CONF"] = hsm_.conf_path();
    auto r =
        interrupt_when({ATTACHE_CLI_PATH, "enrol", "--module", module_, "--token", uri(serial),
                        "--holder", "Alice", "--subject", "CN=Alice", "--out", out_dir(),
                        "--inventory", inventory(), "--pin-source", std::string("env:") + kPinVar},
                       env, "Generating the encryption key");
    EXPECT_EQ(r.exit_code, 13) << testing::describe(r);
    EXPECT_TRUE(contains(r.err, "interrupted")) << r.err;
    EXPECT_TRUE(contains(r.err, "deleted from the card")) << r.err;
    EXPECT_TRUE(contains(r.err, "the inventory was not changed")) << r.err;
    EXPECT_EQ(snapshot("card"), before);
    EXPECT_FALSE(fs::exists(inventory()));
    EXPECT_TRUE(fs::is_empty(out_dir()));
}

}  // namespace
}  // namespace attache::enrol_test

namespace attache::enrol_test {
namespace {

// The signed card manifest of managed workstations, from a real enrolment.
TEST_F(EnrolTest, TheSignedManifestListsTheActiveCardItsHolderAndKeys) {
    const std::string serial = add_token("card");
    auto enrolled = enrol(serial, "ec-p256", {"--holder", "alice"});
    ASSERT_EQ(enrolled.exit_code, 0) << testing::describe(enrolled);
    const auto keys = json_of(enrolled)["keys"];
    make_ca();
    for (int k = 0; k < 2; ++k) {
        auto r =
            import_certificate(serial, issue(keys[k]["csr"], "cert" + std::to_string(k) + ".pem"));
        ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
    }
    ASSERT_EQ(testing::run_command(
                  {"openssl", "genpkey", "-algorithm", "ed25519", "-out", path("admin.pem")})
                  .exit_code,
              0);
    auto exported =
        attache({"inventory", "export", "--manifest", "--signing-key", path("admin.pem"), "--out",
                 path("cards.manifest"), "--inventory", inventory(), "--json"});
    ASSERT_EQ(exported.exit_code, 0) << testing::describe(exported);
    EXPECT_EQ(json_of(exported)["active"], 1);
    const auto m = nlohmann::json::parse(testing::read_file(path("cards.manifest")));
    EXPECT_EQ(m["format"], "attache-card-manifest/1");
    ASSERT_EQ(m["cards"].size(), 1u);
    EXPECT_EQ(m["cards"][0]["serial"], serial);
    EXPECT_EQ(m["cards"][0]["holder"], "alice");
    EXPECT_EQ(m["cards"][0]["state"], "active");
    ASSERT_EQ(m["cards"][0]["keys"].size(), 2u);
    EXPECT_EQ(m["cards"][0]["keys"][0]["spki_sha256"], keys[0]["spki_sha256"]);
    EXPECT_EQ(m["cards"][0]["keys"][1]["spki_sha256"], keys[1]["spki_sha256"]);
    // A standard Ed25519 signature over the file's bytes: openssl checks it.
    ASSERT_EQ(testing::run_command(
                  {"openssl", "pkey", "-in", path("admin.pem"), "-pubout", "-out", path("pub.pem")})
                  .exit_code,
              0);
    ASSERT_EQ(testing::run_command({"openssl", "base64", "-d", "-in", path("cards.manifest.sig"),
                                    "-out", path("sig.bin")})
                  .exit_code,
              0);
    auto verified = testing::run_command({"openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                                          path("pub.pem"), "-rawin", "-in", path("cards.manifest"),
                                          "-sigfile", path("sig.bin")});
    EXPECT_NE(verified.out.find("Signature Verified Successfully"), std::string::npos)
        << testing::describe(verified);

    // Marked lost: the next manifest says so, with a sequence not lower than the last.
    ASSERT_EQ(attache({"inventory", "set-state", "1", "lost", "--reason", "left in a taxi",
                       "--inventory", inventory()})
                  .exit_code,
              0);
    ASSERT_EQ(attache({"inventory", "export", "--manifest", "--signing-key", path("admin.pem"),
                       "--out", path("cards.manifest"), "--inventory", inventory()})
                  .exit_code,
              0);
    const auto lost = nlohmann::json::parse(testing::read_file(path("cards.manifest")));
    EXPECT_EQ(lost["cards"][0]["state"], "lost");
    EXPECT_GE(lost["sequence"].get<uint64_t>(), m["sequence"].get<uint64_t>());
    // Without a key nothing is written.
    auto no_key = attache({"inventory", "export", "--manifest", "--out", path("other.manifest"),
                           "--inventory", inventory()});
    EXPECT_EQ(no_key.exit_code, 2) << testing::describe(no_key);
    EXPECT_FALSE(std::filesystem::exists(path("other.manifest")));
}

TEST_F(EnrolTest, AManifestRefusesAnActiveCardWhoseHolderIsNoLoginName) {
    const std::string serial = add_token("card");
    auto enrolled = enrol(serial, "ec-p256");  // --holder "Alice Martin"
    ASSERT_EQ(enrolled.exit_code, 0) << testing::describe(enrolled);
    const auto keys = json_of(enrolled)["keys"];
    make_ca();
    for (int k = 0; k < 2; ++k)
        ASSERT_EQ(
            import_certificate(serial, issue(keys[k]["csr"], "c" + std::to_string(k) + ".pem"))
                .exit_code,
            0);
    ASSERT_EQ(testing::run_command(
                  {"openssl", "genpkey", "-algorithm", "ed25519", "-out", path("admin.pem")})
                  .exit_code,
              0);
    auto r = attache({"inventory", "export", "--manifest", "--signing-key", path("admin.pem"),
                      "--out", path("cards.manifest"), "--inventory", inventory()});
    EXPECT_EQ(r.exit_code, 2) << testing::describe(r);
    EXPECT_NE(r.err.find("'Alice Martin' is not a login name"), std::string::npos)
        << testing::describe(r);
    EXPECT_FALSE(std::filesystem::exists(path("cards.manifest")));
}

}  // namespace
}  // namespace attache::enrol_test
